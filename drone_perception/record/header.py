"""The run header every flight record starts with: ``/meta`` (config, what ran, against what) and ``/fence``
(what the audit checks the trajectory against). One writer for every mode (simulated or live)."""

from __future__ import annotations

from typing import Any

from drone_perception.config import StackConfig
from drone_perception.interfaces import Recorder
from drone_perception.record import topics
from drone_perception.types import to_jsonable


def record_run_header(rec: Recorder, config: StackConfig, *, stamp_s: float, scenario: str | None,
                      link: str, **extra: Any) -> None:
    """Record ``/meta`` and ``/fence`` at ``stamp_s`` (the stack's clock, s). ``link``: "sim", "mavlink" or
    "sitl"; ``extra``: what else identifies the run (seed, autopilot, source, perception, control ...)."""
    meta = {"config": config.model_dump(mode="json"), "scenario": scenario, "link": link,
            "tethered": config.fence.tethered, **extra}
    rec.record(topics.META, stamp_s, meta)
    rec.record(topics.FENCE, stamp_s, to_jsonable(config.fence.model_dump()))


__all__ = ["record_run_header"]
