"""The stack's version and the source commit it runs from (for ``--version`` and every record's provenance)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from drone_perception import __version__


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """Short commit (with ``+dirty`` for local changes) of the checkout this package runs from, if any."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None


def version_text() -> str:
    """``drone-perception 0.1.0 (commit abc1234)``; the commit only from a git checkout."""
    commit = source_commit()
    return f"drone-perception {__version__}" + (f" (commit {commit})" if commit else "")


__all__ = ["__version__", "source_commit", "version_text"]
