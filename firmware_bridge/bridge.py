"""``MavlinkBridge``: the stack's hardware edge (charter items 2, 3, 4, 6 at the wire).

The owner's loop calls, every control period::

    state = bridge.poll(now_s)                 # telemetry in, engagement checks, heartbeats
    op = bridge.operator_input(now_s)          # for the pipeline
    ... pipeline -> governor -> safe ...
    bridge.send(safe, now_s)                   # sends that SafeCommand ONCE (refuses expired ones)

The bridge never re-sends a setpoint on its own. If the pipeline stops producing commands,
:meth:`MavlinkBridge.check_stall` (from the owner's loop or :class:`StallWatchdog`, a thread that can only
call it) sends ONE explicit zero-velocity hold and then requests BRAKE (ArduPilot) / HOLD (PX4); after
that the stream stays silent so the autopilot's own timeout (GUID_TIMEOUT / COM_OF_LOSS_T) remains the
outer layer. The bridge never arms, takes off or selects GUIDED/OFFBOARD; it only *requests* safer modes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from drone_perception.config.link import LinkConfig
from drone_perception.config.safety import FenceConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.record import topics
from drone_perception.types import ModeRequest, OperatorInput, SafeCommand, VehicleState
from firmware_bridge import crew_notices
from firmware_bridge.allowlist import VELOCITY_YAW_RATE_TYPE_MASK, Allowlist
from firmware_bridge.camera_tracking import CameraTrackingComponent, TrackingHandler
from firmware_bridge.crew_notices import CrewNotices
from firmware_bridge.dialects import Dialect, dialect_for
from firmware_bridge.engagement import DeadmanConfig, Engagement
from firmware_bridge.errors import BridgeError, LinkTimeout
from firmware_bridge.fence import (
    FenceItem,
    download_fence_items,
    fence_items,
    fence_params,
    upload_fence_items,
    verify_fence_items,
)
from firmware_bridge.link import MAV_TYPE_GCS, MavlinkLink
from firmware_bridge.params import set_param_verified
from firmware_bridge.signing import load_key, setup_signing
from firmware_bridge.telemetry import TelemetryDecoder

log = logging.getLogger(__name__)

MAV_FRAME_LOCAL_NED = 1
MAV_RESULT_UNSUPPORTED = 3
MAV_CMD_REQUEST_MESSAGE = 512
#: Telemetry the bridge asks for: message id -> rate (Hz); None = the control rate.
STREAMS: dict[int, float | None] = {
    32: None,  # LOCAL_POSITION_NED
    30: None,  # ATTITUDE
    1: 2.0,  # SYS_STATUS
    242: 0.5,  # HOME_POSITION
    285: 10.0,  # GIMBAL_DEVICE_ATTITUDE_STATUS
}
RC_CHANNELS_ID = 65
#: Heartbeats but no telemetry: ask for the streams again at most this often (s).
STREAM_REREQUEST_S = 2.0
HOME_POSITION_ID = 242


class MavlinkBridge:
    """See the module docstring. Build with :meth:`open` (from LinkConfig) or from an open link.

    ``setpoint_period_s``: the control period. ``stall_timeout_s``: no command for this long -> one hold
    + BRAKE/HOLD request (default 1.5 periods; must exceed one period). ``silence_timeout_s``: after
    :meth:`connect`, no autopilot message for this long counts as link loss (heartbeat rule still applies).
    """

    def __init__(self, link: MavlinkLink, dialect: Dialect, deadman: DeadmanConfig, *,
                 setpoint_period_s: float = 0.05, stall_timeout_s: float | None = None,
                 silence_timeout_s: float = 0.5, recorder: Recorder | None = None,
                 tracking_handler: TrackingHandler | None = None, mode_request_interval_s: float = 1.0) -> None:
        if not (math.isfinite(setpoint_period_s) and 0.005 <= setpoint_period_s <= 0.5):
            raise BridgeError(f"setpoint_period_s: must be in [0.005, 0.5], got {setpoint_period_s}")
        stall = 1.5 * setpoint_period_s if stall_timeout_s is None else float(stall_timeout_s)
        if not (math.isfinite(stall) and setpoint_period_s < stall <= 5.0):
            raise BridgeError(f"stall_timeout_s: must be in ({setpoint_period_s}, 5], got {stall}")
        self.link = link
        self.dialect = dialect
        self.setpoint_period_s = setpoint_period_s
        self.stall_timeout_s = stall
        self.silence_timeout_s = silence_timeout_s
        self._recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.telemetry = TelemetryDecoder(dialect)
        self.engagement = Engagement(deadman, dialect.companion_mode)
        self._deadman = deadman
        self.camera = CameraTrackingComponent(link, tracking_handler) if tracking_handler is not None else None
        #: What the crew is told in the ground station (STATUSTEXT) and the record.
        self.notices = CrewNotices(link, self._recorder)
        self._mode_request_interval_s = mode_request_interval_s
        self._lock = threading.RLock()
        self._last_command_s: float | None = None
        self._stall_handled = False
        self._last_mode_request: tuple[ModeRequest, float] | None = None
        self._link_was_ok: bool | None = None
        self._streams_requested_s = -math.inf
        self.sent_setpoints = 0
        self.refused_expired = 0
        self.refused_not_engaged = 0
        link.add_handler(self._on_message)

    @classmethod
    def open(cls, config: LinkConfig, *, control_rate_hz: float | None = None, recorder: Recorder | None = None,
             tracking_handler: TrackingHandler | None = None, clock: Callable[[], float] = time.monotonic,
             **kwargs: Any) -> MavlinkBridge:
        """Open the link described by ``config`` (signing set up when ``signing_key_file`` is given)."""
        dialect = dialect_for(config.autopilot)
        key = load_key(config.signing_key_file) if config.signing_key_file else None
        link = MavlinkLink.open(config.connection, allowlist=Allowlist(dialect.safe_mode_params),
                                source_system=config.source_system, source_component=config.source_component,
                                recorder=recorder, clock=clock, heartbeat_timeout_s=config.heartbeat_timeout_s)
        if key is not None:
            setup_signing(link.conn, key, now_epoch_s=time.time())
        rate = control_rate_hz if control_rate_hz is not None else config.setpoint_rate_hz
        return cls(link, dialect, DeadmanConfig.from_link_config(config), setpoint_period_s=1.0 / rate,
                   recorder=recorder, tracking_handler=tracking_handler, **kwargs)

    def close(self) -> None:
        self.link.close()

    # ------------------------------------------------------------------ connection
    def connect(self, timeout_s: float, *, require_position: bool = True,
                progress: Callable[[str], None] | None = None, progress_period_s: float = 5.0) -> None:
        """Wait for the autopilot, request the telemetry streams, optionally wait for the first position.

        A real autopilot needs time after boot (ArduCopter SITL: ~20 s to its EKF origin, ~40 s to use GPS);
        ``progress(text)`` is told every ``progress_period_s`` what is being waited for and what the autopilot
        last said. Raises LinkTimeout when the autopilot (or its LOCAL_POSITION_NED stream, which starts with a
        position estimate) does not appear within ``timeout_s``.
        """
        deadline = self.link.now() + timeout_s
        self.link.service(self.link.now())
        self._wait_reporting("HEARTBEAT", self.link.is_autopilot_heartbeat, deadline, timeout_s, progress,
                             progress_period_s)
        self.link.service(self.link.now(), force=True)  # a udpin link can only answer once the autopilot was heard
        self.request_streams(self.link.now())
        self.link.silence_timeout_s = self.silence_timeout_s
        if require_position:
            self._wait_reporting("LOCAL_POSITION_NED (a position estimate)",
                                 lambda m: m.get_type() == "LOCAL_POSITION_NED" and self.link.from_autopilot(m),
                                 deadline, timeout_s, progress, progress_period_s)

    def _wait_reporting(self, what: str, predicate: Callable[[Any], bool], deadline: float, timeout_s: float,
                        progress: Callable[[str], None] | None, period_s: float) -> None:
        start = self.link.now()
        while True:
            left = deadline - self.link.now()
            if left <= 0:
                raise LinkTimeout(f"no {what} from the autopilot on {self.link.connection} within {timeout_s:.1f} s"
                                  + (f" (it last said: {self.telemetry.last_text!r})" if self.telemetry.last_text
                                     else ""))
            try:
                self.link.wait_for(predicate, min(left, period_s if progress is not None else left), what)
                return
            except LinkTimeout:
                if progress is not None and deadline - self.link.now() > 0:
                    said = f"; it last said {self.telemetry.last_text!r}" if self.telemetry.last_text else ""
                    heard = "heard" if math.isfinite(self.telemetry.heartbeat_stamp_s) else "not heard yet"
                    progress(f"waiting for the autopilot on {self.link.connection}: {what} "
                             f"({self.link.now() - start:.0f} s of {timeout_s:.0f} s; heartbeat {heard}{said})")

    def request_streams(self, now_s: float) -> None:
        """Ask for the telemetry the stack needs on this link (a real autopilot sends on each port only what
        was asked for there, and forgets it on reboot)."""
        rate = 1.0 / self.setpoint_period_s
        for msg_id, hz in STREAMS.items():
            self.link.request_message_interval(msg_id, hz if hz is not None else rate, now_s)
        if self._deadman.rc_channel is not None:
            self.link.request_message_interval(RC_CHANNELS_ID, 10.0, now_s)
        self._streams_requested_s = now_s

    # ------------------------------------------------------------------ incoming
    def _on_message(self, msg: Any, stamp_s: float) -> None:
        kind = msg.get_type()
        if self.link.from_autopilot(msg):
            for event in self.telemetry.update(msg, stamp_s):
                self._recorder.record(topics.AUTOPILOT_EVENTS, stamp_s, event)
            if kind == "RC_CHANNELS":
                self.engagement.on_rc_channels([getattr(msg, f"chan{i}_raw") for i in range(1, 19)], stamp_s)
            return
        if kind == "HEARTBEAT" and int(msg.type) == MAV_TYPE_GCS:
            self.engagement.on_gcs_heartbeat(stamp_s)
        elif kind in ("COMMAND_LONG", "COMMAND_INT"):
            if self.camera is not None and self.camera.handles(msg):
                self.camera.handle(msg, stamp_s)
            elif (msg.target_system == self.link.mav.srcSystem
                  and msg.target_component == self.link.mav.srcComponent):
                ack = self.link.mav.command_ack_encode(msg.command, MAV_RESULT_UNSUPPORTED, 0, 0,
                                                       msg.get_srcSystem(), msg.get_srcComponent())
                self.link.send(ack, stamp_s)

    def poll(self, now_s: float, timeout_s: float = 0.0) -> VehicleState:
        """Read waiting messages (waiting up to ``timeout_s`` for the first), update link and engagement
        state (an engagement loss sends an immediate hold), send due heartbeats; return the vehicle state."""
        self.link.receive(timeout_s=timeout_s)
        link_ok = self.link.link_ok(now_s)
        if self.link.silence_timeout_s is not None and self._streams_lapsed(now_s):
            # Heartbeats but no streams: the autopilot rebooted or the link was re-made; ask again.
            log.warning("autopilot heard but its telemetry stopped: requesting the streams again")
            self.request_streams(now_s)
        if link_ok != self._link_was_ok:
            self._recorder.record(topics.AUTOPILOT_EVENTS, now_s, {"kind": "link", "ok": link_ok, "stamp_s": now_s})
            if not link_ok:
                log.warning("autopilot link lost at %.3f s (last heartbeat %.3f s, last message %.3f s)",
                            now_s, self.link.last_heartbeat_s, self.link.last_message_s)
            self._link_was_ok = link_ok
        self.engagement.on_vehicle(self.telemetry.armed, self.telemetry.mode, link_ok)
        reason = self.engagement.update(now_s)
        if reason is not None:
            self._hold_now(now_s, "disengage", reason)
        self.link.service(now_s)
        if self.camera is not None:
            self.camera.service(now_s)
        return self.telemetry.vehicle_state(link_ok)

    def _streams_lapsed(self, now_s: float) -> bool:
        """The autopilot is heard but its position stream has stopped (or never came) for a while."""
        if now_s - self._streams_requested_s < STREAM_REREQUEST_S:
            return False
        hb_fresh = now_s - self.link.last_heartbeat_s <= self.link.heartbeat_timeout_s
        last_pos = self.telemetry.position_stamp_s
        return hb_fresh and not (math.isfinite(last_pos) and now_s - last_pos < STREAM_REREQUEST_S)

    def vehicle_state(self, now_s: float) -> VehicleState:
        return self.telemetry.vehicle_state(self.link.link_ok(now_s))

    def operator_input(self, now_s: float) -> OperatorInput:
        return self.engagement.operator_input(now_s)

    # ------------------------------------------------------------------ operator
    def engage(self, now_s: float) -> tuple[bool, str]:
        """The operator engages follow (console/GCS action). Returns (engaged, reason)."""
        self.engagement.on_vehicle(self.telemetry.armed, self.telemetry.mode, self.link.link_ok(now_s))
        ok, reason = self.engagement.request_engage(now_s)
        self._recorder.record(topics.AUTOPILOT_EVENTS, now_s,
                              {"kind": "engage", "ok": ok, "reason": reason, "stamp_s": now_s})
        if ok:
            self.notices.forget("disengage")
            self.notices.say("engage", crew_notices.INFO, "follow engaged", now_s)
        else:
            self.notices.say("engage", crew_notices.WARNING, f"follow refused: {reason}", now_s)
        return ok, reason

    def disengage(self, now_s: float, reason: str = "operator disengaged") -> None:
        """Disengage now and send one hold."""
        if self.engagement.disengage(reason):
            self._hold_now(now_s, "disengage", reason)

    # ------------------------------------------------------------------ outgoing
    def _send_velocity(self, velocity_ned_mps: Any, yaw_rate_radps: float, now_s: float) -> None:
        vx, vy, vz = (float(v) for v in velocity_ned_mps)
        msg = self.link.mav.set_position_target_local_ned_encode(
            self.link.boot_ms(now_s), self.link.target_system or 1, self.link.target_component or 1,
            MAV_FRAME_LOCAL_NED, VELOCITY_YAW_RATE_TYPE_MASK, 0.0, 0.0, 0.0, vx, vy, vz, 0.0, 0.0, 0.0, 0.0,
            float(yaw_rate_radps))
        self.link.send(msg, now_s)
        self.sent_setpoints += 1

    def _hold_now(self, now_s: float, kind: str, reason: str) -> None:
        log.warning("%s: %s -> hold", kind, reason)
        self._recorder.record(topics.AUTOPILOT_EVENTS, now_s, {"kind": kind, "reason": reason, "stamp_s": now_s})
        if kind == "stall":
            self.notices.say("stall", crew_notices.CRITICAL, f"stalled, hold+BRAKE: {reason}", now_s)
        else:
            self.notices.say("disengage", crew_notices.WARNING, f"follow off: {reason}", now_s)
        with self._lock:
            self._send_velocity((0.0, 0.0, 0.0), 0.0, now_s)

    def send(self, safe: SafeCommand, now_s: float) -> bool:
        """Send ``safe`` once. Returns False (and logs) when it is expired, or when it would move the vehicle
        while follow is not engaged. A ``mode_request`` on it is forwarded (rate-limited)."""
        if safe.expired(now_s):
            self.refused_expired += 1
            log.warning("refused expired command (expired at %.3f s, now %.3f s)", safe.expires_at_s, now_s)
            return False
        cmd = safe.command
        moving = any(abs(float(v)) > 0.0 for v in cmd.velocity_ned_mps) or cmd.yaw_rate_radps != 0.0
        if moving and not self.engagement.following:
            self.refused_not_engaged += 1
            log.warning("refused a moving command: follow not engaged (%s)",
                        self.engagement.last_disengage_reason or "never engaged")
            return False
        with self._lock:
            self._send_velocity(cmd.velocity_ned_mps, cmd.yaw_rate_radps, now_s)
            self._last_command_s = now_s
            self._stall_handled = False
        if safe.mode_request is not None:
            self.request_mode(safe.mode_request, now_s)
        return True

    def request_mode(self, request: ModeRequest, now_s: float) -> bool:
        """Request a safer mode (DO_SET_MODE); repeated requests of the same mode are rate-limited.
        Returns True when a request was sent."""
        if self.telemetry.mode == self.dialect.request_name(request):
            return False
        last = self._last_mode_request
        if last is not None and last[0] is request and now_s - last[1] < self._mode_request_interval_s:
            return False
        p1, p2, p3 = self.dialect.mode_requests[request]
        with self._lock:
            self.link.command_long(176, (p1, p2, p3), now_s)
        self._last_mode_request = (request, now_s)
        self._recorder.record(topics.AUTOPILOT_EVENTS, now_s,
                              {"kind": "mode_request", "mode": request.value, "stamp_s": now_s})
        return True

    def check_stall(self, now_s: float) -> bool:
        """If the pipeline stopped producing commands for more than ``stall_timeout_s``: send ONE hold, then
        request BRAKE/HOLD, disengage. Returns True when it acted. Sends nothing else, ever."""
        with self._lock:
            if self._last_command_s is None or self._stall_handled:
                return False
            if not self.engagement.following:
                # Disengaged: the disengage already sent its one hold; a stall now is not the stack's to handle.
                return False
            silent_s = now_s - self._last_command_s
            if silent_s <= self.stall_timeout_s:
                return False
            self._stall_handled = True
        self.engagement.disengage(f"pipeline stalled ({silent_s:.3f} s without a command)")
        self._hold_now(now_s, "stall", f"no command for {silent_s:.3f} s")
        self.request_mode(ModeRequest.BRAKE, now_s)
        return True

    # ------------------------------------------------------------------ safety parameters and fence
    def configure_command_timeout(self, value_s: float, *, timeout_s: float) -> float:
        """Write the autopilot's setpoint timeout (GUID_TIMEOUT / COM_OF_LOSS_T) and read it back."""
        if not (math.isfinite(value_s) and 0.1 <= value_s <= 5.0):
            raise BridgeError(f"command timeout value_s: must be in [0.1, 5], got {value_s}")
        name = self.dialect.command_timeout_param
        got = set_param_verified(self.link, name, value_s, timeout_s=timeout_s, now_s=self.link.now())
        self._recorder.record(topics.AUTOPILOT_EVENTS, self.link.now(),
                              {"kind": "param", "name": name, "value": got, "stamp_s": self.link.now()})
        return got

    def upload_fence(self, fence: FenceConfig, *, timeout_s: float, altitude_floor: bool = True) -> list[FenceItem]:
        """Upload the fence (parameters + polygon), download it again and verify; returns the items.
        ``altitude_floor=False`` skips the floor parameter for autopilots that lack it."""
        deadline = self.link.now() + timeout_s
        if self.telemetry.home is None:
            self.link.command_long(MAV_CMD_REQUEST_MESSAGE, (HOME_POSITION_ID,), self.link.now())
            self.link.wait_for(lambda m: m.get_type() == "HOME_POSITION" and self.link.from_autopilot(m),
                               max(0.0, deadline - self.link.now()), "HOME_POSITION")
        home = self.telemetry.home
        if home is None:
            raise BridgeError("fence upload: HOME_POSITION arrived but could not be decoded")
        for name, value in fence_params(fence, self.dialect, altitude_floor=altitude_floor).items():
            set_param_verified(self.link, name, value, timeout_s=max(0.05, deadline - self.link.now()),
                               now_s=self.link.now())
        items = fence_items(fence, home.lat_deg, home.lon_deg, home.position_ned_m[:2])
        upload_fence_items(self.link, items, timeout_s=max(0.05, deadline - self.link.now()), now_s=self.link.now())
        got = download_fence_items(self.link, timeout_s=max(0.05, deadline - self.link.now()),
                                   now_s=self.link.now())
        verify_fence_items(items, got)
        self._recorder.record(topics.AUTOPILOT_EVENTS, self.link.now(),
                              {"kind": "fence_upload", "items": len(items), "verified": True,
                               "stamp_s": self.link.now()})
        return items


class StallWatchdog:
    """A thread that only ever calls :meth:`MavlinkBridge.check_stall` (hold + BRAKE/HOLD request), every
    ``period_s``, so a hung pipeline still ends in an explicit hold. Use as a context manager."""

    def __init__(self, bridge: MavlinkBridge, *, period_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bridge = bridge
        self._period_s = period_s if period_s is not None else bridge.setpoint_period_s / 2
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-stall-watchdog", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self._bridge.check_stall(self._clock())
            except BridgeError as exc:
                log.error("stall watchdog: %s", exc)

    def start(self) -> StallWatchdog:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    def __enter__(self) -> StallWatchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["STREAMS", "MavlinkBridge", "StallWatchdog"]
