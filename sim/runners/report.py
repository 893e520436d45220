"""What every simulated run leaves beside its result: the flight record, the trajectory plot and the audit report.

:func:`run_and_report` is used by the CLI for every mode; it prints nothing (printing lives with the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from drone_perception.interfaces import Recorder
from drone_perception.record import topics
from drone_perception.record.errors import RecordError
from sim.runners.plots import save_trajectory_plot
from sim.runners.truth import ScenarioResult

R = TypeVar("R")


def run_and_report(out_dir: Path, run: Callable[[Recorder | None], R], *, record: bool = True,
                   result_of: Callable[[R], ScenarioResult] | None = None) -> tuple[dict[str, Any], R]:
    """Run ``run(recorder)`` recording to ``out_dir/record.mcap`` (unless ``record`` is off), then save the
    trajectory plot and the audit report next to it. An existing record there is never overwritten
    (``RecordError``). The record ends with a ``/run/end`` marker: complete, or (Ctrl-C, a crash) not, in which
    case the record is still closed and audited (unverifiable) before the exception goes on.
    ``result_of(returned)`` picks the ScenarioResult out of what ``run`` returned (default: ``run`` returns
    one). Returns the summary dict and what ``run`` returned."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / "record.mcap"
    if record_path.exists():
        raise RecordError(f"{record_path} already holds a flight record: evidence is never overwritten; choose "
                          "another --out (the default is a new timestamped folder)")
    recorder = None
    if record:
        from drone_perception.record.mcap_recorder import FlightRecorder

        recorder = FlightRecorder(record_path)
    try:
        returned = run(recorder)
    except BaseException as exc:  # interrupted (Ctrl-C) or crashed: the record says so, the audit is unverifiable
        if recorder is not None:
            recorder.record(topics.RUN_END, _last_stamp(recorder),
                            {"complete": False, "reason": f"interrupted: {type(exc).__name__}"})
            recorder.close()
            from drone_perception.audit.api import audit_record

            audit_record(record_path, out_dir / "report.html", out_dir / "verdict.json")
        raise
    if recorder is not None:
        recorder.record(topics.RUN_END, _last_stamp(recorder), {"complete": True, "reason": "the run ended"})
        recorder.close()
    result = result_of(returned) if result_of is not None else returned
    assert isinstance(result, ScenarioResult)
    summary = result.summary()
    summary["plot"] = str(save_trajectory_plot(result, out_dir / "trajectory.png"))
    if recorder is not None:
        from drone_perception.audit.api import audit_record

        report_path = out_dir / "report.html"
        summary["audit"] = audit_record(record_path, report_path, out_dir / "verdict.json")
        summary["record"], summary["report"] = str(record_path), str(report_path)
    return summary, returned


def _last_stamp(recorder: Any) -> float:
    stamp = getattr(recorder, "last_stamp_s", None)
    return float(stamp) if stamp is not None else 0.0


__all__ = ["run_and_report"]
