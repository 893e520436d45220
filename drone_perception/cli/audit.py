"""``drone-perception audit RECORD.mcap -o report.html``: check a flight record against the safety charter.

Exit status: 0 every invariant passed and the run exercised the stack; 1 at least one failed; 3 none failed
but some could not be verified from the record; 4 none failed or was unverifiable, but the run was not
exercised (follow never engaged, or no motion setpoint was sent: nothing but holds); 2 the record could not be
opened (or another error). A check with nothing to check says "not_exercised", never "pass".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from drone_perception.audit.api import audit_autopilot_log, audit_record
from drone_perception.errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="safety-audit a flight record: HTML report + JSON verdict "
                       "(exit 0 pass, 1 an invariant failed, 3 some are unverifiable, 4 not exercised: the run "
                       "never engaged or sent no motion setpoint, 2 the record cannot be opened)")
    p.add_argument("record", type=Path, help="flight record (.mcap); or an autopilot log (.tlog / .ulg) alone for "
                   "the autopilot's evidence (arming and by whom, modes, fence, failsafes, pre-arm failures)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="HTML report to write (default: RECORD with .html)")
    p.add_argument("--json", type=Path, default=None, dest="json_path",
                   help="JSON verdict to write; - prints it on stdout instead of the text summary")
    p.add_argument("--tlog", type=Path, default=None, help="ArduPilot/GCS telemetry log (.tlog) of the same flight")
    p.add_argument("--ulog", type=Path, default=None, help="PX4 flight log (.ulg) of the same flight")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = args.output if args.output is not None else args.record.with_suffix(".html")
    if args.record.suffix.lower() in (".tlog", ".ulg"):
        return _autopilot_only(args, report)
    to_stdout = str(args.json_path) == "-"
    verdict = audit_record(args.record, report, None if to_stdout else args.json_path, tlog=args.tlog,
                           ulog=args.ulog)
    if to_stdout:
        print(json.dumps(verdict, indent=2, allow_nan=False))
        return int(verdict["exit_code"])
    print(f"audit of {args.record}: {verdict['overall'].replace('_', ' ').upper()}")
    for key, r in verdict["invariants"].items():
        margin = f" worst margin {r['worst_margin']:.3f} {r['unit']}" if r["worst_margin"] is not None else ""
        when = f" at t={r['worst_at_s']:.2f} s" if r["worst_at_s"] is not None else ""
        print(f"  {r['status']:13s} {key}{margin}{when}")
    for p in verdict["problems"]:
        print(f"  problem: {p}")
    print(f"report: {report}" + (f"  verdict: {args.json_path}" if args.json_path else ""))
    return int(verdict["exit_code"])


def _autopilot_only(args: argparse.Namespace, report: Path) -> int:
    """``audit FLIGHT.tlog`` (or ``.ulg``) alone: the autopilot's evidence; exit 0 when it could be read."""
    if args.tlog or args.ulog:
        raise ConfigError("--tlog/--ulog go beside the stack's record; here the autopilot log is the input")
    to_stdout = str(args.json_path) == "-"
    data = audit_autopilot_log(args.record, report, None if to_stdout else args.json_path)
    if to_stdout:
        print(json.dumps(data, indent=2))
        return 0
    ap = data["autopilot"]
    print(f"autopilot evidence from {args.record} ({ap['autopilot']}, {ap['vehicle_type']}): no charter verdict "
          "without the stack's record")
    for k, v in ap["summary"].items():
        print(f"  {k}: {v}")
    for p in ap["problems"]:
        print(f"  problem: {p}")
    print(f"report: {report}" + (f"  evidence: {args.json_path}" if args.json_path else ""))
    return 0
