"""The import-layering check that ``make lint`` runs: it passes on the project and fails on each kind of break."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_layers", ROOT / "tools" / "check_layers.py")
assert _spec is not None and _spec.loader is not None
check_layers = importlib.util.module_from_spec(_spec)
sys.modules["check_layers"] = check_layers
_spec.loader.exec_module(check_layers)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    base = {"drone_perception/__init__.py": "", "drone_perception/types.py": "",
            "drone_perception/cli/__init__.py": "", "drone_perception/runners/__init__.py": "",
            "sim/__init__.py": "", "sim/world/world.py": "",
            "sim/runners/__init__.py": "", "firmware_bridge/__init__.py": "", "firmware_bridge/bridge.py": ""}
    for rel, text in {**base, **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_the_project_keeps_its_layers() -> None:
    assert check_layers.check(ROOT) == []


@pytest.mark.parametrize(("files", "expected"), [
    ({"drone_perception/types.py": "import sim.world.world\n"},
     "drone_perception.types (core) imports sim.world.world (sim)"),
    ({"drone_perception/types.py": "def f():\n    from firmware_bridge import bridge\n"},
     "drone_perception.types (core) imports firmware_bridge.bridge (firmware_bridge)"),
    ({"drone_perception/types.py": "import typing\nif typing.TYPE_CHECKING:\n    from sim.runners import x\n"},
     "drone_perception.types (core) imports sim.runners (runners)"),
    ({"sim/world/world.py": "from firmware_bridge.bridge import B\n"},
     "sim.world.world (sim) imports firmware_bridge.bridge"),
    ({"firmware_bridge/bridge.py": "import sim.world.world\n"},
     "firmware_bridge.bridge (firmware_bridge) imports sim.world.world"),
    ({"sim/runners/a.py": "from drone_perception.cli import main\n"},
     "sim.runners.a (runners) imports drone_perception.cli"),
    ({"sim/a.py": "from sim import b\n", "sim/b.py": "from . import a\n"}, "import circle: sim.a <-> sim.b"),
])
def test_each_break_is_reported(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems = check_layers.check(_tree(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_downward_imports_pass(tmp_path: Path) -> None:
    files = {"drone_perception/cli/sim.py": "import sim.runners.a\nfrom drone_perception.runners import live\n",
             "drone_perception/runners/live.py": "from firmware_bridge.bridge import B\nimport drone_perception.types",
             "sim/runners/a.py": "from sim.world.world import W\nfrom firmware_bridge import bridge\n",
             "sim/world/world.py": "from drone_perception.types import T\n"}
    assert check_layers.check(_tree(tmp_path, files)) == []
    assert check_layers.main(["x", str(tmp_path)]) == 0
