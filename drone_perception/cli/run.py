"""``drone-perception run --connect URL --source CAMERA|VIDEO|DIR``: the live loop against an autopilot.

Perception-only unless ``--control`` is given AND the configuration declares the vehicle tethered
(``fence.tethered: true``) or ``--sitl`` says the autopilot is a simulator (charter item 7). Perception-only
tracks, answers the ground station's camera-tracking clicks, reports the tracked box, records; it never sends a
setpoint. Every run records (``--record``, or a new ``runs/live/<UTC time>.mcap``); a record is never
overwritten, and it is closed on Ctrl-C, a dead link or an error. Exit codes: 0 clean stop (end of a
video/folder, ``--max-frames``), 2 error (refused, no link, dead link).
"""

from __future__ import annotations

import argparse
import datetime
import logging
from pathlib import Path
from typing import Any

from drone_perception.config import load_config
from drone_perception.record.errors import RecordError

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="live: camera/video -> detector -> pipeline -> MAVLink bridge "
                       "(perception-only unless --control and tethered/--sitl)", description=__doc__)
    p.add_argument("--connect", required=True, help="autopilot link, e.g. udpin:0.0.0.0:14550, tcp:127.0.0.1:5760, "
                   "serial:/dev/ttyACM0:921600")
    p.add_argument("--source", required=True, help="camera index, video file/URL or a directory of images")
    p.add_argument("--config", type=Path, default=None, help="YAML configuration file")
    p.add_argument("--control", action="store_true", help="closed-loop follow (refused unless tethered or --sitl)")
    p.add_argument("--sitl", action="store_true", help="the autopilot is a SITL simulator")
    p.add_argument("--record", type=Path, default=None, help="write the flight record (MCAP) here (default: a new "
                   "runs/live/<UTC time>.mcap; an existing file is never overwritten)")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the autopilot")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = until the end)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drone_perception.runners.live import run_live

    config = load_config(args.config)
    record = args.record if args.record is not None else default_record_path()
    if record.exists():
        raise RecordError(f"{record} already exists: a flight record is never overwritten; give another --record")
    record.parent.mkdir(parents=True, exist_ok=True)
    stats = run_live(config, connect=args.connect, source=args.source, control=args.control, sitl=args.sitl,
                     record=record, connect_timeout_s=args.connect_timeout,
                     max_frames=args.max_frames or None)
    mode = "closed loop" if args.control else "perception only"
    print(f"run ({mode}): {stats.frames} frames, subject locked in {stats.locked_frames}, "
          f"{stats.setpoints_sent} setpoints sent; stopped: {stats.stop_reason}")
    print(f"record: {record}  (audit it: drone-perception audit {record})")
    return 0


def default_record_path() -> Path:
    """A new ``runs/live/<UTC time>.mcap`` (``-2``, ``-3``... when one of that second exists)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path, k = Path("runs/live") / f"{stamp}.mcap", 1
    while path.exists():
        k += 1
        path = Path("runs/live") / f"{stamp}-{k}.mcap"
    return path
