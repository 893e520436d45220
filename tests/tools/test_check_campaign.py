"""The CI gate over a campaign's summary: safety failures and unforeseen mission failures fail it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import check_campaign


def _summary(tmp_path: Path, standoff: int = 0, unforeseen: tuple[str, ...] = (), foreseen: int = 3) -> Path:
    inv = {k: {"failures": 0, "cases": 10, "upper_bound": 0.26, "worst_margin": 0.4}
           for k in ("standoff_m", "fence_m", "disengaged_commands")}
    inv["standoff_m"]["failures"] = standoff
    inv["mission"] = {"failures": foreseen + len(unforeseen), "cases": 10, "upper_bound": 0.7, "worst_margin": -1}
    (tmp_path / "summary.json").write_text(json.dumps({
        "cases": 10, "invariants": inv, "mission_failures_foreseen": foreseen,
        "mission_failures_unforeseen": list(unforeseen)}))
    return tmp_path


@pytest.mark.parametrize(("kw", "code"), [({}, 0), ({"standoff": 1}, 1), ({"unforeseen": ("abc",)}, 1)])
def test_the_gate(tmp_path: Path, kw: dict, code: int, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[type-arg]
    assert check_campaign.main([str(_summary(tmp_path, **kw))]) == code
    assert "3 foreseen" in capsys.readouterr().out


def test_no_summary_is_bad_input(tmp_path: Path) -> None:
    assert check_campaign.main([str(tmp_path)]) == 2
