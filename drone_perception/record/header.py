"""The run header every flight record starts with: ``/meta`` (config, what ran, against what) and ``/fence``
(what the audit checks the trajectory against). One writer for every mode (simulated or live)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from drone_perception.config import StackConfig
from drone_perception.interfaces import Recorder
from drone_perception.record import topics
from drone_perception.types import to_jsonable


def record_run_header(rec: Recorder, config: StackConfig, *, stamp_s: float, scenario: str | None,
                      link: str, **extra: Any) -> None:
    """Record ``/meta`` and ``/fence`` at ``stamp_s`` (the stack's clock, s). ``link``: "sim", "mavlink" or
    "sitl"; ``extra``: what else identifies the run (seed, autopilot, source, perception, control ...)."""
    cfg = config.model_dump(mode="json")
    from drone_perception.config.envelope import mission_warnings

    meta = {"config": cfg, "scenario": scenario, "link": link, "tethered": config.fence.tethered,
            "provenance": provenance(config, cfg), "mission_warnings": mission_warnings(config.follow, config.camera),
            **extra}
    rec.record(topics.META, stamp_s, meta)
    rec.record(topics.FENCE, stamp_s, to_jsonable(config.fence.model_dump()))


def provenance(config: StackConfig, dumped: dict[str, Any] | None = None) -> dict[str, Any]:
    """What produced a run: stack version and source commit, the config's sha256 (canonical JSON), and the
    detector model's path and sha256 (the shipped default when the config names none)."""
    from drone_perception import __version__
    from drone_perception.version import source_commit

    cfg = dumped if dumped is not None else config.model_dump(mode="json")
    cfg_hash = hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return {"stack_version": __version__, "commit": source_commit(), "config_sha256": cfg_hash,
            "model": _model(config)}


def _model(config: StackConfig) -> dict[str, Any]:
    try:
        from drone_perception.detect.factory import default_model_path

        path = Path(config.detector.model_path) if config.detector.model_path else default_model_path()
        return {"path": str(path), "sha256": file_sha256(path)}
    except Exception as exc:  # a missing model is the detector's error to raise, not the header's
        return {"path": config.detector.model_path, "sha256": None, "problem": str(exc)}


@functools.lru_cache(maxsize=8)
def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file, read in 1 MiB blocks; cached per path (models do not change under a run)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["file_sha256", "provenance", "record_run_header"]
