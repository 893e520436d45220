"""The companion as a MAVLink camera component with tracking (subject selection from the ground station).

QGroundControl (and other camera-protocol GCSs) discover a camera from its HEARTBEAT (MAV_TYPE_CAMERA)
and CAMERA_INFORMATION. With ``CAMERA_CAP_FLAGS_HAS_TRACKING_POINT`` / ``..._RECTANGLE`` set, the operator
can click a point or drag a box on the video; the GCS sends MAV_CMD_CAMERA_TRACK_POINT (param1 x, param2 y,
param3 radius; normalised image coordinates in [0, 1], origin top-left, x right, y down),
MAV_CMD_CAMERA_TRACK_RECTANGLE (param1..4 = top-left x, y, bottom-right x, y) or
MAV_CMD_CAMERA_STOP_TRACKING. Each is answered with one COMMAND_ACK: ACCEPTED when the pipeline's
handler locked (or released) a track, DENIED otherwise with the reason in a STATUSTEXT.

The pipeline reports the tracked box with CAMERA_TRACKING_IMAGE_STATUS (drawn by QGC) and the subject's
position with CAMERA_TRACKING_GEO_STATUS.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

from pymavlink.dialects.v20 import ardupilotmega as mav2

from firmware_bridge.link import MAV_TYPE_CAMERA, MavlinkLink

log = logging.getLogger(__name__)

MAV_COMP_ID_CAMERA = mav2.MAV_COMP_ID_CAMERA
_TRACK_CMDS = (mav2.MAV_CMD_CAMERA_TRACK_POINT, mav2.MAV_CMD_CAMERA_TRACK_RECTANGLE,
               mav2.MAV_CMD_CAMERA_STOP_TRACKING)
_INFO_REQUEST_CMDS = (mav2.MAV_CMD_REQUEST_MESSAGE, mav2.MAV_CMD_REQUEST_CAMERA_INFORMATION)
_CAMERA_INFORMATION_ID = mav2.MAVLINK_MSG_ID_CAMERA_INFORMATION


class TrackingHandler(Protocol):
    """Supplied by the pipeline. Coordinates are normalised image coordinates in [0, 1] (x right, y down).
    Each returns ``(ok, reason)``; ``reason`` is shown to the operator when ``ok`` is False."""

    def on_track_point(self, u_norm: float, v_norm: float) -> tuple[bool, str]: ...

    def on_track_rectangle(self, x1_norm: float, y1_norm: float, x2_norm: float,
                           y2_norm: float) -> tuple[bool, str]: ...

    def on_stop_tracking(self) -> tuple[bool, str]: ...


@dataclass(frozen=True)
class CameraDescription:
    """What CAMERA_INFORMATION reports. ``focal_length_mm``/``sensor_size_*_mm`` may be NaN (unknown)."""

    vendor: str = "drone-perception"
    model: str = "follow-camera"
    resolution_wh_px: tuple[int, int] = (1280, 720)
    focal_length_mm: float = math.nan
    sensor_size_wh_mm: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class TrackCommandResult:
    """One handled command: what was asked, whether it was accepted and why."""

    command: int
    accepted: bool
    reason: str


def _fixed(text: str, n: int) -> list[int]:
    raw = text.encode("ascii", "replace")[:n]
    return list(raw.ljust(n, b"\0"))


def _norm_ok(*values: float) -> bool:
    return all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)


class CameraTrackingComponent:
    """Answers the camera-protocol tracking commands by calling ``handler``; publishes tracking status."""

    def __init__(self, link: MavlinkLink, handler: TrackingHandler, *,
                 description: CameraDescription | None = None, component_id: int = MAV_COMP_ID_CAMERA) -> None:
        self._link = link
        self._handler = handler
        self._desc = description or CameraDescription()
        self.component_id = component_id
        self.results: list[TrackCommandResult] = []
        self._next_heartbeat_s = -math.inf

    def service(self, now_s: float, period_s: float = 1.0) -> None:
        """Send the camera component's 1 Hz HEARTBEAT when due."""
        if now_s < self._next_heartbeat_s:
            return
        mav = self._link.mav
        self._link.send(mav.heartbeat_encode(MAV_TYPE_CAMERA, 8, 0, 0, 4), now_s, component=self.component_id)
        self._next_heartbeat_s = now_s + period_s

    def send_information(self, now_s: float) -> None:
        d = self._desc
        flags = (mav2.CAMERA_CAP_FLAGS_HAS_TRACKING_POINT | mav2.CAMERA_CAP_FLAGS_HAS_TRACKING_RECTANGLE)
        msg = self._link.mav.camera_information_encode(
            self._link.boot_ms(now_s), _fixed(d.vendor, 32), _fixed(d.model, 32), 0, d.focal_length_mm,
            d.sensor_size_wh_mm[0], d.sensor_size_wh_mm[1], d.resolution_wh_px[0], d.resolution_wh_px[1], 0,
            flags, 0, b"")
        self._link.send(msg, now_s, component=self.component_id)

    def handles(self, msg: Any) -> bool:
        """True for a COMMAND_LONG/COMMAND_INT addressed to this camera component (or broadcast)."""
        if msg.get_type() not in ("COMMAND_LONG", "COMMAND_INT"):
            return False
        if msg.target_system not in (0, self._link.mav.srcSystem):
            return False
        if msg.target_component not in (0, self.component_id):
            return False
        if msg.command in _TRACK_CMDS:
            return True
        return msg.command in _INFO_REQUEST_CMDS and msg.target_component == self.component_id

    def handle(self, msg: Any, now_s: float) -> TrackCommandResult | None:
        """Handle a command (see :meth:`handles`), send its ACK; None when the message is not for us."""
        if not self.handles(msg):
            return None
        cmd = int(msg.command)
        p = [float(getattr(msg, f"param{i}")) for i in range(1, 5)]
        if cmd in _INFO_REQUEST_CMDS:
            if cmd == mav2.MAV_CMD_REQUEST_MESSAGE and round(p[0]) != _CAMERA_INFORMATION_ID:
                result = TrackCommandResult(cmd, False, f"message id {p[0]:.0f} not provided by the camera")
            else:
                result = TrackCommandResult(cmd, True, "camera information sent")
        else:
            result = self._dispatch(cmd, p)
        self._ack(msg, result, now_s)
        if result.accepted and cmd in _INFO_REQUEST_CMDS:
            self.send_information(now_s)
        self.results.append(result)
        log.info("camera command %d from %d/%d: %s (%s)", cmd, msg.get_srcSystem(), msg.get_srcComponent(),
                 "accepted" if result.accepted else "denied", result.reason)
        return result

    def _dispatch(self, cmd: int, p: list[float]) -> TrackCommandResult:
        try:
            if cmd == mav2.MAV_CMD_CAMERA_TRACK_POINT:
                if not _norm_ok(p[0], p[1]):
                    return TrackCommandResult(cmd, False, f"point ({p[0]}, {p[1]}) outside [0, 1]")
                ok, reason = self._handler.on_track_point(p[0], p[1])
            elif cmd == mav2.MAV_CMD_CAMERA_TRACK_RECTANGLE:
                if not _norm_ok(*p) or p[2] <= p[0] or p[3] <= p[1]:
                    return TrackCommandResult(cmd, False, f"rectangle {p} not a box inside [0, 1]")
                ok, reason = self._handler.on_track_rectangle(p[0], p[1], p[2], p[3])
            else:
                ok, reason = self._handler.on_stop_tracking()
        except Exception as exc:  # the pipeline's callback must not take the link down: deny
            log.exception("tracking handler failed for command %d", cmd)
            return TrackCommandResult(cmd, False, f"internal error: {type(exc).__name__}")
        return TrackCommandResult(cmd, bool(ok), str(reason))

    def _ack(self, msg: Any, result: TrackCommandResult, now_s: float) -> None:
        mav = self._link.mav
        code = mav2.MAV_RESULT_ACCEPTED if result.accepted else mav2.MAV_RESULT_DENIED
        ack = mav.command_ack_encode(result.command, code, 0, 0, msg.get_srcSystem(), msg.get_srcComponent())
        self._link.send(ack, now_s, component=self.component_id)
        if not result.accepted:
            text = f"track refused: {result.reason}"[:50]
            self._link.send(mav.statustext_encode(mav2.MAV_SEVERITY_WARNING, text.encode("ascii", "replace")),
                            now_s, component=self.component_id)

    def publish_image_status(self, now_s: float, box_xyxy_norm: tuple[float, float, float, float] | None,
                             *, point_mode: bool = False) -> None:
        """Report the tracked box (normalised, top-left/bottom-right) or idle when ``None``."""
        mav = self._link.mav
        nan = math.nan
        if box_xyxy_norm is None:
            msg = mav.camera_tracking_image_status_encode(
                mav2.CAMERA_TRACKING_STATUS_FLAGS_IDLE, mav2.CAMERA_TRACKING_MODE_NONE,
                0, nan, nan, nan, nan, nan, nan, nan)
        else:
            x1, y1, x2, y2 = (min(1.0, max(0.0, float(v))) for v in box_xyxy_norm)
            mode = mav2.CAMERA_TRACKING_MODE_POINT if point_mode else mav2.CAMERA_TRACKING_MODE_RECTANGLE
            msg = mav.camera_tracking_image_status_encode(
                mav2.CAMERA_TRACKING_STATUS_FLAGS_ACTIVE, mode, mav2.CAMERA_TRACKING_TARGET_DATA_IN_STATUS,
                (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) / 2, x1, y1, x2, y2)
        self._link.send(msg, now_s, component=self.component_id)

    def publish_geo_status(self, now_s: float, *, lat_deg: float, lon_deg: float, alt_amsl_m: float,
                           h_acc_m: float, velocity_ned_mps: tuple[float, float, float],
                           distance_m: float) -> None:
        """Report the subject's position (WGS84), velocity (NED m/s) and distance from the camera (m)."""
        vn, ve, vd = (float(v) for v in velocity_ned_mps)
        heading = math.atan2(ve, vn) if math.hypot(vn, ve) > 0.2 else math.nan
        msg = self._link.mav.camera_tracking_geo_status_encode(
            mav2.CAMERA_TRACKING_STATUS_FLAGS_ACTIVE, round(lat_deg * 1e7), round(lon_deg * 1e7),
            float(alt_amsl_m), float(h_acc_m), math.nan, vn, ve, vd, math.nan, float(distance_m), heading,
            math.nan)
        self._link.send(msg, now_s, component=self.component_id)


__all__ = ["MAV_COMP_ID_CAMERA", "CameraDescription", "CameraTrackingComponent", "TrackCommandResult",
           "TrackingHandler"]
