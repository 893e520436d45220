"""A simulated multicopter that speaks MAVLink 2 over UDP with ArduCopter semantics.

``MavlinkSimVehicle`` is a thin shell: a UDP endpoint (:mod:`sim.mavlink.link`), seeded link faults
(:mod:`sim.mavlink.faults`), the ArduCopter flight logic (:mod:`sim.mavlink.autopilot`), telemetry streams
(:mod:`sim.mavlink.telemetry`) and the fence mission protocol (:mod:`sim.mavlink.mission`). Nothing runs in the
background: :meth:`MavlinkSimVehicle.step` receives and handles what arrived, advances the physics by
``dt_s`` and sends what is due, so a test can run it in lock-step with its client. :meth:`run_realtime`
is the wall-clock loop for ``drone-perception sim-vehicle``.

Like ArduPilot, the vehicle routes: a message from one peer that is not addressed to the autopilot itself
(e.g. a ground station's HEARTBEAT, or a camera command for the companion) is forwarded to the other peers.
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import InvalidValueError
from sim.mavlink.autopilot import ACCEPTED, DENIED, FAILED, CopterAutopilot, CopterMode, Dynamics, Sender
from sim.mavlink.faults import DelayQueue, GpsGlitch, LinkFaultConfig, LinkFaults, LinkStats, Malformation
from sim.mavlink.fence import FenceGeometry, GeoOrigin
from sim.mavlink.link import Address, MavUdpEndpoint
from sim.mavlink.mission import FenceMissionServer
from sim.mavlink.params import ParamStore
from sim.mavlink.telemetry import DEFAULT_RATES_HZ, RateScheduler, TelemetryBuilder

log = logging.getLogger(__name__)
M = mavlink2

_ONBOARD_COMPUTER_IDS = range(M.MAV_COMP_ID_ONBOARD_COMPUTER, M.MAV_COMP_ID_ONBOARD_COMPUTER4 + 1)
_MISSION_MSGS = frozenset({"MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_REQUEST_LIST", "MISSION_REQUEST_INT",
                           "MISSION_REQUEST", "MISSION_CLEAR_ALL", "MISSION_ACK"})
_VELOCITY_ONLY_MASK = (M.POSITION_TARGET_TYPEMASK_X_IGNORE | M.POSITION_TARGET_TYPEMASK_Y_IGNORE
                       | M.POSITION_TARGET_TYPEMASK_Z_IGNORE)
_VEL_BITS = (M.POSITION_TARGET_TYPEMASK_VX_IGNORE | M.POSITION_TARGET_TYPEMASK_VY_IGNORE
             | M.POSITION_TARGET_TYPEMASK_VZ_IGNORE)
_BODY_FRAMES = frozenset({M.MAV_FRAME_BODY_NED, M.MAV_FRAME_BODY_OFFSET_NED, M.MAV_FRAME_BODY_FRD})
_NED_FRAMES = frozenset({M.MAV_FRAME_LOCAL_NED, M.MAV_FRAME_LOCAL_OFFSET_NED})


@dataclass(frozen=True)
class SimVehicleConfig:
    """Fixed set-up of the simulated vehicle.

    ``gps_lock_s``: simulated seconds before the position estimate is good (arming refused before).
    ``wind_ned_mps``: the wind at start (m/s, NED; :attr:`MavlinkSimVehicle.wind_ned_mps` changes it).
    ``peer_timeout_s``: a silent peer stops getting telemetry.
    ``route``: forward messages not addressed to the autopilot between peers, as ArduPilot does.
    """

    system_id: int = 1
    component_id: int = M.MAV_COMP_ID_AUTOPILOT1
    gps_lock_s: float = 2.0
    origin: GeoOrigin = field(default_factory=GeoOrigin)
    faults: LinkFaultConfig = field(default_factory=LinkFaultConfig)
    wind_ned_mps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    peer_timeout_s: float = 10.0
    route: bool = True


def default_dynamics(position_ned_m: np.ndarray | None = None, yaw_rad: float = 0.0) -> Dynamics:
    """``sim.world.multicopter.Multicopter`` with its default parameters, on the ground at ``position_ned_m``."""
    from sim.world.multicopter import Multicopter, MulticopterParams  # the dynamics model; imported when first needed

    pos = np.zeros(3) if position_ned_m is None else np.asarray(position_ned_m, dtype=float)
    vehicle: Dynamics = Multicopter(MulticopterParams(), pos, yaw_rad=yaw_rad)
    return vehicle


class MavlinkSimVehicle:
    """Simulated ArduCopter on ``listen`` (``udpin:HOST:PORT``, port 0 = any free; or ``udpout:HOST:PORT``).

    ``rng`` drives every random fault (packet loss, jitter). ``params`` overrides ArduCopter parameters
    (e.g. ``{"GUID_TIMEOUT": 1.0}``). ``signing_key`` (32 bytes): sign everything we send and refuse every
    unsigned or badly signed message. Raises ``SimLinkError`` when the port is in use.
    """

    def __init__(
        self, listen: str, *, rng: np.random.Generator, params: Mapping[str, float] | None = None,
        config: SimVehicleConfig | None = None, dynamics: Dynamics | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.config = config or SimVehicleConfig()
        c = self.config
        self.link = MavUdpEndpoint(listen, system_id=c.system_id, component_id=c.component_id,
                                   signing_key=signing_key, peer_timeout_s=c.peer_timeout_s)
        self.faults = LinkFaults(c.faults, rng)
        store = ParamStore(params)
        store.set("SYSID_THISMAV", c.system_id)
        self.ap = CopterAutopilot(dynamics if dynamics is not None else default_dynamics(), store,
                                  gps_lock_s=c.gps_lock_s)
        self.telemetry = TelemetryBuilder(self.link.mav, self.ap, c.origin)
        self.rates = RateScheduler(DEFAULT_RATES_HZ)
        self.mission = FenceMissionServer(self.link.mav, c.origin, self._on_fence)
        self.wind_ned_mps = c.wind_ned_mps
        self._rx_queue: DelayQueue[tuple[Address, bytes]] = DelayQueue()
        self._tx_queue: DelayQueue[tuple[Address, bytes]] = DelayQueue()
        self._ground_stations: set[tuple[int, int]] = set()
        #: Messages refused for a missing or bad signature (signing enabled only).
        self.signature_rejects = 0
        #: Messages we decoded, by type (after faults), for tests and the CLI summary.
        self.received_counts: dict[str, int] = {}

    # -------------------------------------------------------------- accessors
    @property
    def wind_ned_mps(self) -> np.ndarray:
        """The air's velocity (m/s, NED) the physics uses from the next step on; set it every step for gusts
        (the lock-step loop feeds it the world's wind, mean + gusts)."""
        return self._wind.copy()

    @wind_ned_mps.setter
    def wind_ned_mps(self, value: npt.ArrayLike) -> None:
        wind = np.asarray(value, dtype=float)
        if wind.shape != (3,) or not np.all(np.isfinite(wind)):
            raise InvalidValueError(f"wind_ned_mps: expected 3 finite m/s (NED), got {value!r}")
        self._wind = wind

    @property
    def local_address(self) -> Address:
        return self.link.local_address

    @property
    def time_s(self) -> float:
        return self.ap.time_s

    @property
    def position_ned_m(self) -> np.ndarray:
        """Truth position (m, NED about the start point), not the (possibly glitched) reported one."""
        return np.array(self.ap.dyn.position_ned_m, dtype=float)

    @property
    def velocity_ned_mps(self) -> np.ndarray:
        return np.array(self.ap.dyn.velocity_ned_mps, dtype=float)

    @property
    def mode(self) -> str:
        return self.ap.mode.name

    @property
    def armed(self) -> bool:
        return self.ap.armed

    @property
    def link_stats(self) -> LinkStats:
        return self.faults.stats

    def set_rc_channel(self, channel: int, pwm_us: int) -> None:
        """Move a transmitter switch/stick (1-based channel, PWM us), e.g. flip the dead-man switch."""
        self.ap.rc.set(channel, pwm_us)

    def inject_gps_glitch(self, offset_ned_m: tuple[float, float, float], duration_s: float,
                          start_s: float | None = None) -> None:
        """Reported position jumps by ``offset_ned_m`` (m) for ``duration_s`` from ``start_s`` (default now)."""
        if not (math.isfinite(duration_s) and duration_s > 0.0):
            raise InvalidValueError(f"GPS glitch duration_s {duration_s} must be > 0")
        t0 = self.time_s if start_s is None else float(start_s)
        self.ap.glitches.append(GpsGlitch(t0, float(duration_s), tuple(float(x) for x in offset_ned_m)))  # type: ignore[arg-type]

    def malform_link(self, duration_s: float, probability: float, rng: np.random.Generator,
                     start_s: float | None = None) -> Malformation:
        """Garble outgoing datagrams for ``duration_s`` from ``start_s`` (default now), each with ``probability``
        (:class:`~sim.mavlink.faults.Malformation`); returns the window, whose counters say what was garbled."""
        m = Malformation(self.time_s if start_s is None else float(start_s), float(duration_s), float(probability),
                         rng)
        self.faults.malformations.append(m)
        return m

    def drop_link(self, duration_s: float, start_s: float | None = None) -> None:
        """Nothing is sent or received for ``duration_s`` from ``start_s`` (default now), simulated seconds."""
        self.faults.drop_link(self.time_s if start_s is None else float(start_s), duration_s)

    # ------------------------------------------------------------------- loop
    def step(self, dt_s: float) -> None:
        """Handle arrived messages, advance the physics by ``dt_s`` (s), send due telemetry and events."""
        now = self.time_s
        for addr, data in self.link.receive_datagrams(now):
            if self.faults.rx_lost(now):
                continue
            d = self.faults.delay_s()
            if d > 0.0:
                self._rx_queue.push(now + d, (addr, data))
            else:
                self._handle_datagram(addr, data)
        for addr, data in self._rx_queue.pop_due(now):
            self._handle_datagram(addr, data)
        self._send_all(self.mission.poll(now))
        self.ap.step(dt_s, self._wind)
        now = self.time_s
        for st in self.ap.drain_statustext():
            self._send(self.link.mav.statustext_encode(st.severity, st.text.encode("ascii", "replace")))
        for msg_id in self.rates.due(now):
            self._send(self.telemetry.build(msg_id))
        for addr, data in self._tx_queue.pop_due(now):
            self.link.send_bytes(data, addr)

    def run_realtime(self, duration_s: float | None = None, *, rate_hz: float = 100.0) -> None:
        """Step against the wall clock at ``rate_hz`` for ``duration_s`` seconds (None: until interrupted)."""
        if not (math.isfinite(rate_hz) and 1.0 <= rate_hz <= 1000.0):
            raise InvalidValueError(f"rate_hz {rate_hz} outside [1, 1000]")
        period = 1.0 / rate_hz
        start = last = time.monotonic()
        while duration_s is None or last - start < duration_s:
            next_tick = last + period
            while (wait := next_tick - time.monotonic()) > 0.0:
                select.select([self.link], [], [], wait)
            now = time.monotonic()
            self.step(min(now - last, 0.1))  # a stalled host does not teleport the vehicle
            last = now

    def start_thread(self, *, rate_hz: float = 100.0, slice_s: float = 0.1) -> RealtimeThread:
        """Run in real time on a daemon thread, as an external SITL would (its own clock), until
        :meth:`RealtimeThread.stop`. Use as a context manager: the thread stops and the link closes at the end."""
        return RealtimeThread(self, rate_hz=rate_hz, slice_s=slice_s)

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> MavlinkSimVehicle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- sending
    def _send(self, msg: Any) -> None:
        m = self.faults.malformation(self.time_s)
        garbled = m.garble(msg, self.link.pack) if m is not None else None
        self._send_bytes(garbled if garbled is not None else self.link.pack(msg), exclude=None)

    def _send_all(self, msgs: list[Any]) -> None:
        for m in msgs:
            self._send(m)

    def _send_bytes(self, data: bytes, exclude: Address | None) -> None:
        now = self.time_s
        for addr in self.link.peers(now):
            if addr == exclude or self.faults.tx_lost(now):
                continue
            d = self.faults.delay_s()
            if d > 0.0:
                self._tx_queue.push(now + d, (addr, data))
            else:
                self.link.send_bytes(data, addr)

    def _ack(self, command: int, result: int, msg: Any) -> None:
        self._send(self.link.mav.command_ack_encode(command, result, 0, 0, msg.get_srcSystem(),
                                                    msg.get_srcComponent()))

    # ---------------------------------------------------------------- handling
    def _handle_datagram(self, addr: Address, data: bytes) -> None:
        for msg in self.link.decode(addr, data):
            t = msg.get_type()
            if t == "BAD_DATA":
                if "signature" in str(getattr(msg, "reason", "")).lower():
                    self.signature_rejects += 1
                continue
            self.received_counts[t] = self.received_counts.get(t, 0) + 1
            for_us, for_others = self._addressing(msg)
            if for_others and self.config.route:
                self._send_bytes(bytes(msg.get_msgbuf()), exclude=addr)
            if for_us:
                try:
                    self._dispatch(msg)
                except (ValueError, TypeError, AttributeError) as exc:  # malformed content: log, keep flying
                    log.warning("ignored malformed %s from %d/%d: %s", t, msg.get_srcSystem(),
                                msg.get_srcComponent(), exc)

    def _addressing(self, msg: Any) -> tuple[bool, bool]:
        ts = getattr(msg, "target_system", None)
        tc = getattr(msg, "target_component", None)
        me_s, me_c = self.config.system_id, self.config.component_id
        if ts is None or ts == 0:
            return True, True
        if ts != me_s:
            return False, True
        if tc is None or tc == 0:
            return True, True
        return (tc == me_c), (tc != me_c)

    def _sender(self, msg: Any) -> Sender:
        key = (msg.get_srcSystem(), msg.get_srcComponent())
        return Sender(key[0], key[1], key in self._ground_stations)

    def _dispatch(self, msg: Any) -> None:
        t = msg.get_type()
        if t == "HEARTBEAT":
            key = (msg.get_srcSystem(), msg.get_srcComponent())
            if msg.type == M.MAV_TYPE_GCS and key[1] not in _ONBOARD_COMPUTER_IDS:
                self._ground_stations.add(key)
        elif t in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(msg)
        elif t == "SET_MODE":
            result = self.ap.set_mode(msg.custom_mode, self._sender(msg)) if (
                msg.base_mode & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED) else FAILED
            self._ack(M.MAVLINK_MSG_ID_SET_MODE, result, msg)
        elif t == "SET_POSITION_TARGET_LOCAL_NED":
            self._position_target(msg)
        elif t in ("PARAM_SET", "PARAM_REQUEST_READ", "PARAM_REQUEST_LIST"):
            self._param(msg)
        elif t in _MISSION_MSGS:
            self._send_all(self.mission.handle(msg, self.time_s))
        elif t == "RC_CHANNELS_OVERRIDE":
            if msg.get_srcSystem() == int(self.ap.params.get("SYSID_MYGCS")):
                values = [getattr(msg, f"chan{i}_raw") for i in range(1, 19)]
                self.ap.rc.override(values, self.time_s, self.ap.params.get("RC_OVERRIDE_TIME"))
        elif t == "REQUEST_DATA_STREAM":
            self._legacy_stream(msg)

    def _command(self, msg: Any) -> None:
        cmd = int(msg.command)
        p = [msg.param1, msg.param2, msg.param3, msg.param4]
        p7 = float(msg.param7 if msg.get_type() == "COMMAND_LONG" else msg.z)
        sender = self._sender(msg)
        if cmd == M.MAV_CMD_COMPONENT_ARM_DISARM:
            result = self.ap.arm_disarm(p[0] >= 0.5, sender, force=p[1])
        elif cmd == M.MAV_CMD_DO_SET_MODE:
            result = (self.ap.set_mode(int(p[1]), sender) if int(p[0]) & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
                      else FAILED)
        elif cmd == M.MAV_CMD_NAV_TAKEOFF:
            result = self.ap.takeoff(p7, sender)
        elif cmd == M.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            result = self.ap.set_mode(CopterMode.RTL, sender)
        elif cmd == M.MAV_CMD_NAV_LAND:
            result = self.ap.set_mode(CopterMode.LAND, sender)
        elif cmd == M.MAV_CMD_SET_MESSAGE_INTERVAL:
            result = self._set_interval(int(p[0]), float(p[1]))
        elif cmd in (M.MAV_CMD_REQUEST_MESSAGE, M.MAV_CMD_GET_HOME_POSITION,
                     M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES):
            msg_id = {M.MAV_CMD_GET_HOME_POSITION: M.MAVLINK_MSG_ID_HOME_POSITION,
                      M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: M.MAVLINK_MSG_ID_AUTOPILOT_VERSION}.get(cmd, int(p[0]))
            result = ACCEPTED if self.telemetry.supports(msg_id) else DENIED
            self._ack(cmd, result, msg)
            if result == ACCEPTED:
                self._send(self.telemetry.build(msg_id))
            return
        else:
            result = M.MAV_RESULT_UNSUPPORTED
        self._ack(cmd, result, msg)

    def _set_interval(self, msg_id: int, interval_us: float) -> int:
        if not self.telemetry.supports(msg_id) or msg_id == M.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
            return DENIED
        if interval_us == 0:
            rate = DEFAULT_RATES_HZ.get(msg_id, 0.0)
        elif interval_us < 0:
            rate = 0.0
        else:
            rate = min(1e6 / interval_us, 400.0)
        self.rates.set_rate(msg_id, rate, now_s=self.time_s)
        return ACCEPTED

    def _legacy_stream(self, msg: Any) -> None:
        """REQUEST_DATA_STREAM (MAVProxy still sends it): one rate for all position/attitude streams."""
        rate = float(msg.req_message_rate) if msg.start_stop else 0.0
        if msg.req_stream_id in (M.MAV_DATA_STREAM_ALL, M.MAV_DATA_STREAM_POSITION, M.MAV_DATA_STREAM_EXTRA1):
            for mid in (M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, M.MAVLINK_MSG_ID_LOCAL_POSITION_NED,
                        M.MAVLINK_MSG_ID_ATTITUDE, M.MAVLINK_MSG_ID_VFR_HUD):
                self.rates.set_rate(mid, rate, now_s=self.time_s)

    def _position_target(self, msg: Any) -> None:
        mask = int(msg.type_mask)
        frame = int(msg.coordinate_frame)
        if (mask & _VELOCITY_ONLY_MASK) != _VELOCITY_ONLY_MASK or (mask & _VEL_BITS):
            log.warning("SET_POSITION_TARGET_LOCAL_NED type_mask 0x%x: only velocity targets are simulated", mask)
            return
        if frame not in _NED_FRAMES | _BODY_FRAMES:
            log.warning("SET_POSITION_TARGET_LOCAL_NED frame %d not simulated", frame)
            return
        v = np.array([msg.vx, msg.vy, msg.vz], dtype=float)
        yaw = float(self.ap.dyn.yaw_rad)
        if frame in _BODY_FRAMES:
            c, s = math.cos(yaw), math.sin(yaw)
            v = np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])
        yaw_rate = 0.0
        if not mask & M.POSITION_TARGET_TYPEMASK_YAW_RATE_IGNORE:
            yaw_rate = float(msg.yaw_rate)
        elif not mask & M.POSITION_TARGET_TYPEMASK_YAW_IGNORE:
            err = math.atan2(math.sin(msg.yaw - yaw), math.cos(msg.yaw - yaw))
            yaw_rate = max(-1.0, min(1.0, 2.0 * err))
        if not self.ap.guided_velocity(v, yaw_rate):
            log.debug("velocity target ignored in %s (armed=%s)", self.ap.mode.name, self.ap.armed)

    def _param_value(self, name: str) -> Any:
        store = self.ap.params
        return self.link.mav.param_value_encode(name.encode("ascii"), store.get(name), store.param_type(name),
                                                len(store), store.index(name))

    def _param(self, msg: Any) -> None:
        store = self.ap.params
        t = msg.get_type()
        if t == "PARAM_REQUEST_LIST":
            for name in store:
                self._send(self._param_value(name))
            return
        name = str(msg.param_id).rstrip("\x00")
        if t == "PARAM_REQUEST_READ" and msg.param_index >= 0:
            name = store.name_at(int(msg.param_index)) or ""
        if name not in store:
            log.info("%s for unknown parameter %r ignored", t, name)
            return
        if t == "PARAM_SET":
            try:
                store.set(name, float(msg.param_value))
            except InvalidValueError as exc:
                log.warning("PARAM_SET refused: %s", exc)
        self._send(self._param_value(name))

    def _on_fence(self, geometry: FenceGeometry, count: int) -> None:
        self.ap.set_fence(geometry)
        self.ap.params.set("FENCE_TOTAL", count)


class RealtimeThread:
    """A :class:`MavlinkSimVehicle` stepping against the wall clock on a daemon thread (see ``start_thread``).
    :meth:`stop` silences it (the vehicle goes quiet, like a dead autopilot) without closing its link."""

    def __init__(self, vehicle: MavlinkSimVehicle, *, rate_hz: float, slice_s: float) -> None:
        self.vehicle = vehicle
        self._stop = threading.Event()

        def spin() -> None:
            while not self._stop.is_set():
                vehicle.run_realtime(slice_s, rate_hz=rate_hz)

        self._thread = threading.Thread(target=spin, name="sim-vehicle", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def __enter__(self) -> RealtimeThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.vehicle.close()
