"""What every simulated run leaves beside its result: the flight record, the trajectory plot and the audit report.

:func:`run_and_report` is used by the CLI for every mode; it prints nothing (printing lives with the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from drone_perception.interfaces import Recorder
from sim.runners.plots import save_trajectory_plot
from sim.runners.truth import ScenarioResult

R = TypeVar("R")


def run_and_report(out_dir: Path, run: Callable[[Recorder | None], R], *, record: bool = True,
                   result_of: Callable[[R], ScenarioResult] | None = None) -> tuple[dict[str, Any], R]:
    """Run ``run(recorder)`` recording to ``out_dir/record.mcap`` (unless ``record`` is off), then save the
    trajectory plot and the audit report next to it. ``result_of(returned)`` picks the ScenarioResult out of
    what ``run`` returned (default: ``run`` returns one). Returns the summary dict and what ``run`` returned."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / "record.mcap"
    recorder = None
    if record:
        from drone_perception.record.mcap_recorder import FlightRecorder

        recorder = FlightRecorder(record_path)
    try:
        returned = run(recorder)
    finally:
        if recorder is not None:
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


__all__ = ["run_and_report"]
