"""A scripted ground station: the OPERATOR's tool for simulations and tests (never part of the stack).

It does what a crew does at a console: sends ground-station heartbeats (the dead-man "console alive"
signal), waits for the pre-arm checks, arms, selects GUIDED, takes off, sets RC overrides, reads and
writes parameters and uploads a fence. Every blocking call takes ``timeout_s`` (wall-clock seconds) and
raises :class:`~sim.mavlink.link.SimTimeout` on expiry; a refused command raises
:class:`~sim.mavlink.link.SimCommandRejected`.

Lock-step use: pass ``pump`` (e.g. ``lambda: vehicle.step(0.02)``) and ``clock`` (``lambda: vehicle.time_s``);
every wait loop then advances the in-process vehicle instead of sleeping.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import InvalidValueError
from sim.mavlink.autopilot import CopterMode
from sim.mavlink.link import MavUdpEndpoint, SimCommandRejected, SimTimeout

log = logging.getLogger(__name__)
M = mavlink2
_POLL_S = 0.01
#: What the crew watches on its own port: pre-arm state and altitude (message id -> Hz).
CREW_STREAMS: dict[int, float] = {M.MAVLINK_MSG_ID_SYS_STATUS: 2.0, M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 5.0}


#: How often held RC channels are re-sent (s): well inside ArduPilot's RC_OVERRIDE_TIME (3 s).
RC_HOLD_PERIOD_S = 0.5


class ScriptedGroundStation:
    """Ground station at MAVLink ids ``system_id``/``component_id`` (255/190, Mission Planner's) on ``connect``
    (``udpout:HOST:PORT`` to reach a vehicle listening on ``udpin``). ``heartbeat_hz``: console heartbeat rate
    while any method runs (set :attr:`heartbeats_enabled` False to simulate a dead console)."""

    def __init__(
        self, connect: str, *, system_id: int = 255, component_id: int = M.MAV_COMP_ID_MISSIONPLANNER,
        signing_key: bytes | None = None, pump: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic, heartbeat_hz: float = 1.0,
        target_system: int = 1, target_component: int = M.MAV_COMP_ID_AUTOPILOT1,
    ) -> None:
        if not heartbeat_hz > 0.0:
            raise InvalidValueError(f"heartbeat_hz {heartbeat_hz} must be > 0")
        self.link = MavUdpEndpoint(connect, system_id=system_id, component_id=component_id,
                                   signing_key=signing_key, peer_timeout_s=1e9)
        self.pump = pump
        self.clock = clock
        self.heartbeat_period_s = 1.0 / heartbeat_hz
        self.heartbeats_enabled = True
        #: Told what a wait is waiting for, every 5 s (e.g. ``print`` to stderr); None: silent.
        self.progress: Callable[[str], None] | None = None
        self.target_system = target_system
        self.target_component = target_component
        self._next_heartbeat_s = -1e18
        #: Latest message of each type from the vehicle (system ``target_system``).
        self.latest: dict[str, Any] = {}
        self._inbox: list[Any] = []
        #: Channels the crew holds with RC_CHANNELS_OVERRIDE (1-based channel -> PWM us), re-sent every
        #: ``RC_HOLD_PERIOD_S``: ArduPilot drops an override it has not heard for RC_OVERRIDE_TIME (3 s).
        self.rc_held: dict[int, int] = {}
        self._next_rc_s = -1e18

    # ------------------------------------------------------------------ basics
    def send(self, msg: Any) -> None:
        data = self.link.pack(msg)
        for addr in self.link.peers(self.clock()):
            self.link.send_bytes(data, addr)

    def heartbeat(self) -> None:
        """Send one ground-station HEARTBEAT now."""
        self.send(self.link.mav.heartbeat_encode(M.MAV_TYPE_GCS, M.MAV_AUTOPILOT_INVALID, 0, 0, M.MAV_STATE_ACTIVE))
        self._next_heartbeat_s = self.clock() + self.heartbeat_period_s

    def tick(self) -> None:
        """Heartbeat if due, the held RC channels if due, then take in whatever arrived (non-blocking)."""
        if self.heartbeats_enabled and self.clock() >= self._next_heartbeat_s:
            self.heartbeat()
        if self.rc_held and self.clock() >= self._next_rc_s:
            self.rc_override(self.rc_held)
            self._next_rc_s = self.clock() + RC_HOLD_PERIOD_S
        for addr, data in self.link.receive_datagrams(self.clock()):
            for msg in self.link.decode(addr, data):
                if msg.get_type() == "BAD_DATA" or msg.get_srcSystem() != self.target_system:
                    continue
                self.latest[msg.get_type()] = msg
                self._inbox.append(msg)

    def _flush_inbox(self) -> None:
        """Forget everything received so far (answers to earlier requests, or to other clients)."""
        self.tick()
        self._inbox.clear()

    def _for_me(self, msg: Any) -> bool:
        """A reply addressed to us (or broadcast): the vehicle answers every peer of its link."""
        mav = self.link.mav
        return msg.target_system in (0, mav.srcSystem) and msg.target_component in (0, mav.srcComponent)

    def _wait_step(self) -> None:
        if self.pump is not None:
            self.pump()
        else:
            select.select([self.link], [], [], _POLL_S)
        self.tick()

    def recv_match(self, msg_type: str | tuple[str, ...], timeout_s: float,
                   condition: Callable[[Any], bool] | None = None) -> Any:
        """The next message of ``msg_type`` (one name or a tuple) meeting ``condition`` from the vehicle;
        raise SimTimeout."""
        types = (msg_type,) if isinstance(msg_type, str) else msg_type
        deadline = time.monotonic() + timeout_s
        while True:
            self.tick()
            while self._inbox:
                msg = self._inbox.pop(0)
                if msg.get_type() in types and (condition is None or condition(msg)):
                    return msg
            if time.monotonic() >= deadline:
                raise SimTimeout(f"no {msg_type} from the vehicle within timeout_s={timeout_s}")
            self._wait_step()

    def wait_until(self, what: str, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Pump/poll until ``predicate()`` holds; raise SimTimeout naming ``what`` (and what the vehicle last
        said). :attr:`progress`, when set, is told every 5 s what is being waited for."""
        start = time.monotonic()
        deadline, next_report = start + timeout_s, start + 5.0
        while not predicate():
            now = time.monotonic()
            if now >= deadline:
                raise SimTimeout(f"{what}: not reached within timeout_s={timeout_s:.1f}{self._last_said()}")
            if self.progress is not None and now >= next_report:
                next_report += 5.0
                self.progress(f"crew waiting for {what} ({now - start:.0f} s of {timeout_s:.0f} s){self._last_said()}")
            self._wait_step()

    def _last_said(self) -> str:
        msg = self.latest.get("STATUSTEXT")
        if msg is None:
            return ""
        text = msg.text.decode("utf-8", "replace") if isinstance(msg.text, bytes) else str(msg.text)
        return f"; the vehicle last said {text.rstrip(chr(0))!r}"

    def wait_heartbeat(self, timeout_s: float) -> Any:
        return self.recv_match("HEARTBEAT", timeout_s)

    # ---------------------------------------------------------------- commands
    def command(self, command: int, params: Sequence[float], timeout_s: float, *, check: bool = True) -> int:
        """COMMAND_LONG with up to 7 params; return the MAV_RESULT of its COMMAND_ACK (raise if ``check`` and not
        ACCEPTED)."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self._flush_inbox()
        self.send(self.link.mav.command_long_encode(self.target_system, self.target_component, command, 0, *p))
        ack = self.recv_match("COMMAND_ACK", timeout_s, lambda m: m.command == command and self._for_me(m))
        if check and ack.result != M.MAV_RESULT_ACCEPTED:
            raise SimCommandRejected(f"command {command} refused with MAV_RESULT {ack.result}")
        return int(ack.result)

    def wait_prearm_ok(self, timeout_s: float) -> None:
        """Wait until SYS_STATUS reports the pre-arm checks healthy."""
        def ok() -> bool:
            s = self.latest.get("SYS_STATUS")
            return s is not None and bool(s.onboard_control_sensors_health & M.MAV_SYS_STATUS_PREARM_CHECK)
        self.wait_until("pre-arm checks", ok, timeout_s)

    def set_mode(self, mode: CopterMode | str, timeout_s: float) -> None:
        m = CopterMode[mode] if isinstance(mode, str) else CopterMode(mode)
        self.command(M.MAV_CMD_DO_SET_MODE, [M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, int(m)], timeout_s)

    def arm(self, timeout_s: float) -> None:
        self.heartbeat()  # identify as a ground station first
        self.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [1.0], timeout_s)

    def disarm(self, timeout_s: float) -> None:
        self.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [0.0], timeout_s)

    def takeoff(self, height_m: float, timeout_s: float, *, wait_reached: bool = True) -> None:
        """NAV_TAKEOFF to ``height_m`` above home; optionally wait until GLOBAL_POSITION_INT shows 95 % of it."""
        deadline = time.monotonic() + timeout_s
        self.command(M.MAV_CMD_NAV_TAKEOFF, [0, 0, 0, 0, 0, 0, height_m], timeout_s)
        if wait_reached:
            def up() -> bool:
                g = self.latest.get("GLOBAL_POSITION_INT")
                return g is not None and g.relative_alt >= 950.0 * height_m
            self.wait_until(f"takeoff to {height_m} m", up, max(0.0, deadline - time.monotonic()))

    def operator_launch(self, height_m: float, timeout_s: float) -> None:
        """The crew's launch: wait for pre-arm, select GUIDED, arm, take off to ``height_m`` (m)."""
        deadline = time.monotonic() + timeout_s
        left = lambda: max(0.0, deadline - time.monotonic())  # noqa: E731
        self.wait_heartbeat(left())
        # A real autopilot sends on each port only the streams asked for there (SR*_ / SET_MESSAGE_INTERVAL).
        self.request_streams(left())
        self.wait_prearm_ok(left())
        self.set_mode(CopterMode.GUIDED, left())
        self.arm(left())
        self.takeoff(height_m, left())

    def hold_rc(self, channels_us: dict[int, int]) -> None:
        """Hold these channels at these PWM values (sent now and again every ``RC_HOLD_PERIOD_S`` by :meth:`tick`),
        as a pilot holds a switch; other held channels stay held."""
        self.rc_held.update(channels_us)
        self.rc_override(self.rc_held)
        self._next_rc_s = self.clock() + RC_HOLD_PERIOD_S

    def rc_override(self, channels_us: dict[int, int]) -> None:
        """Send RC_CHANNELS_OVERRIDE for the given 1-based channels (PWM us); the others are left alone."""
        vals = [65535] * 8 + [0] * 10  # MAVLink: "ignore this channel"
        for ch, pwm in channels_us.items():
            if not 1 <= ch <= 18:
                raise InvalidValueError(f"RC channel {ch} outside [1, 18]")
            vals[ch - 1] = int(pwm)
        self.send(self.link.mav.rc_channels_override_encode(self.target_system, self.target_component, *vals))

    def request_streams(self, timeout_s: float) -> None:
        """Ask the vehicle for :data:`CREW_STREAMS` on this port."""
        for msg_id, hz in CREW_STREAMS.items():
            self.set_message_interval(msg_id, hz, timeout_s)

    def set_message_interval(self, msg_id: int, rate_hz: float, timeout_s: float) -> None:
        interval_us = -1.0 if rate_hz <= 0 else 1e6 / rate_hz
        self.command(M.MAV_CMD_SET_MESSAGE_INTERVAL, [msg_id, interval_us], timeout_s)

    # -------------------------------------------------------------- parameters
    def get_param(self, name: str, timeout_s: float) -> float:
        self._flush_inbox()
        self.send(self.link.mav.param_request_read_encode(self.target_system, self.target_component,
                                                          name.encode("ascii"), -1))
        return float(self.recv_match("PARAM_VALUE", timeout_s, lambda m: m.param_id == name).param_value)

    def set_param(self, name: str, value: float, timeout_s: float) -> float:
        """Set and return the value the vehicle read back."""
        self._flush_inbox()
        self.send(self.link.mav.param_set_encode(self.target_system, self.target_component, name.encode("ascii"),
                                                 float(value), M.MAV_PARAM_TYPE_REAL32))
        return float(self.recv_match("PARAM_VALUE", timeout_s, lambda m: m.param_id == name).param_value)

    # ------------------------------------------------------------------- fence
    def upload_fence(self, polygon_latlon_deg: Sequence[tuple[float, float]], timeout_s: float) -> None:
        """Upload one inclusion polygon (lat, lon degrees) with the mission protocol; raise unless ACCEPTED."""
        n = len(polygon_latlon_deg)
        deadline = time.monotonic() + timeout_s
        fence = M.MAV_MISSION_TYPE_FENCE
        self._flush_inbox()
        self.send(self.link.mav.mission_count_encode(self.target_system, self.target_component, n, fence))
        while True:
            msg = self.recv_match(("MISSION_REQUEST_INT", "MISSION_ACK"), max(0.0, deadline - time.monotonic()),
                                  lambda m: m.mission_type == fence and self._for_me(m))
            if msg.get_type() == "MISSION_ACK":
                if msg.type != M.MAV_MISSION_ACCEPTED:
                    raise SimCommandRejected(f"fence upload refused with MAV_MISSION_RESULT {msg.type}")
                return
            if not 0 <= msg.seq < n:
                raise SimCommandRejected(f"vehicle requested fence item {msg.seq} of {n}")
            lat, lon = polygon_latlon_deg[msg.seq]
            self.send(self.link.mav.mission_item_int_encode(
                self.target_system, self.target_component, msg.seq, M.MAV_FRAME_GLOBAL,
                M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, 0, 1, float(n), 0, 0, 0,
                round(lat * 1e7), round(lon * 1e7), 0, fence))

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> ScriptedGroundStation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
