"""Render an audit as a self-contained HTML report (plots embedded as base64 PNG, inline CSS, no
scripts, fonts or URLs fetched) and as a JSON verdict."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import jinja2

from drone_perception.audit.model import AuditVerdict
from drone_perception.audit.plots import all_plots
from drone_perception.audit.series import build_context
from drone_perception.record import topics
from drone_perception.record.reader import FlightLog

_TEMPLATE = "report.html.j2"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(log: FlightLog, verdict: AuditVerdict) -> str:
    """The report as one HTML string."""
    ctx = build_context(log)
    data = verdict.to_dict()
    recorded_events = [
        (s, str(m.get("kind", "?")), ", ".join(f"{k}={v}" for k, v in m.items() if k not in ("kind", "stamp_s")))
        for s, m in log.get(topics.AUTOPILOT_EVENTS)[:300]
    ]
    return _environment().get_template(_TEMPLATE).render(
        record=verdict.record,
        record_name=Path(verdict.record).name,
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        span=verdict.span_s,
        scenario=(ctx.meta or {}).get("scenario"),
        link=ctx.link,
        overall=verdict.overall.value,
        exit_code=verdict.exit_code,
        problems=list(verdict.problems),
        results=list(data["invariants"].values()),
        plots=all_plots(log, ctx),
        autopilot=verdict.autopilot or None,
        recorded_events=recorded_events,
        provenance=_flat(data.get("provenance") or {}),
    )


def _flat(prov: dict[str, Any]) -> dict[str, Any]:
    """Provenance as one level of key -> value for the report's header line."""
    out: dict[str, Any] = {}
    for k, v in prov.items():
        if isinstance(v, dict):
            out.update({f"{k} {kk}": vv for kk, vv in v.items() if vv is not None})
        elif v is not None:
            out[k] = v
    return out


def write_report(log: FlightLog, verdict: AuditVerdict, html_path: str | Path | None,
                 json_path: str | Path | None) -> dict[str, Any]:
    """Write the HTML report and/or the JSON verdict; return the verdict dict."""
    data = verdict.to_dict()
    if html_path is not None:
        Path(html_path).write_text(render_html(log, verdict), encoding="utf-8")
    if json_path is not None:
        Path(json_path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return data
