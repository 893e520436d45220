"""``drone-perception run --connect URL --source CAMERA|VIDEO|DIR``: the live loop against an autopilot.

Perception-only unless ``--control`` is given AND the configuration declares the vehicle tethered
(``fence.tethered: true``) or ``--sitl`` says the autopilot is a simulator (charter item 7). Perception-only
tracks, answers the ground station's camera-tracking clicks, reports the tracked box, records; it never sends a
setpoint. Exit codes: 0 clean stop (end of a video/folder, ``--max-frames``), 2 error (refused, no link, dead link).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from drone_perception.config import StackConfig, load_config

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
    p.add_argument("--record", type=Path, default=None, help="write the flight record (MCAP) here")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the autopilot")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = until the end)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    stats = run_live(config, connect=args.connect, source=args.source, control=args.control, sitl=args.sitl,
                     record=args.record, connect_timeout_s=args.connect_timeout,
                     max_frames=args.max_frames or None)
    mode = "closed loop" if args.control else "perception only"
    print(f"run ({mode}): {stats.frames} frames, subject locked in {stats.locked_frames}, "
          f"{stats.setpoints_sent} setpoints sent; stopped: {stats.stop_reason}")
    return 0


def run_live(config: StackConfig, *, connect: str, source: str, control: bool = False, sitl: bool = False,
             record: Path | None = None, connect_timeout_s: float = 10.0, max_frames: int | None = None,
             detector: Any = None) -> Any:
    """Build and run the live loop; returns ``drone_perception.live.LiveStats``. The charter check comes first,
    before any device or link is opened. ``detector``: inject one (tests); default ``load_detector``."""
    from drone_perception.live import LiveLoop, PipelineTrackingHandler, check_control_allowed, intrinsics_from_config

    check_control_allowed(config, control=control, sitl=sitl)
    from drone_perception.detect import load_detector
    from drone_perception.pipeline import Pipeline
    from drone_perception.record import topics
    from drone_perception.sources import open_source
    from drone_perception.track.bytetrack import ByteTracker
    from firmware_bridge.bridge import MavlinkBridge
    from firmware_bridge.errors import BridgeError, LinkTimeout

    recorder = None
    if record is not None:
        from drone_perception.record.mcap_recorder import FlightRecorder

        recorder = FlightRecorder(record)
    src = open_source(source)
    bridge = None
    try:
        pipeline = Pipeline(config, tracker=ByteTracker(config.tracker),
                            detector=detector if detector is not None else load_detector(config.detector),
                            recorder=recorder)
        handler = PipelineTrackingHandler(pipeline, intrinsics_from_config(config))
        try:
            bridge = MavlinkBridge.open(config.link.model_copy(update={"connection": connect}),
                                        control_rate_hz=config.control_rate_hz, recorder=recorder,
                                        tracking_handler=handler)
            bridge.connect(timeout_s=connect_timeout_s)
        except LinkTimeout as exc:
            raise LinkTimeout(f"cannot connect to {connect}: no autopilot within {connect_timeout_s:.0f} s: "
                              f"{exc}") from None
        except BridgeError as exc:
            raise BridgeError(f"cannot connect to {connect}: {exc}") from None
        if recorder is not None:
            recorder.record(topics.META, time.monotonic(), {
                "config": config.model_dump(mode="json"), "scenario": None, "source": str(source),
                "link": "sitl" if sitl else "mavlink", "control": control, "tethered": config.fence.tethered})
        if control:  # the autopilot's own layer first: a short setpoint timeout and the fence, both read back
            bridge.configure_command_timeout(config.link.guided_timeout_s, timeout_s=connect_timeout_s)
            if config.link.upload_fence:
                bridge.upload_fence(config.fence, timeout_s=connect_timeout_s,
                                    altitude_floor=config.link.fence_altitude_floor)
        loop = LiveLoop(config, pipeline, bridge, src, control=control)
        handler.on_change = loop.on_operator_selection
        return loop.run(max_frames)
    finally:
        src.close()
        if bridge is not None:
            bridge.close()
        if recorder is not None:
            recorder.close()
