"""ArduCopter flight logic of the simulated vehicle: modes, arming, GUIDED, RTL, LAND, fence, RC.

Pure core: no sockets, no clocks. The MAVLink shell (:mod:`sim.mavlink.vehicle`) calls the request methods
with the sender of each message and :meth:`CopterAutopilot.step` with ``dt_s``; it drains
:meth:`CopterAutopilot.drain_statustext` to send ``STATUSTEXT``. Dynamics come from
``sim.world.multicopter.Multicopter`` (or anything with the same interface), driven by NED velocity setpoints (m/s, z
down) and a yaw-rate setpoint (rad/s, positive clockwise seen from above).

The autopilot flies on its *estimated* position: truth plus any active GPS-glitch offset, so a glitch moves
the real vehicle just as it does on a real copter.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from sim.mavlink.faults import GpsGlitch
from sim.mavlink.fence import FenceGeometry, fence_breaches
from sim.mavlink.params import ParamStore
from sim.mavlink.pilot import RcChannels, pilot_velocity

log = logging.getLogger(__name__)

ACCEPTED = mavlink2.MAV_RESULT_ACCEPTED
DENIED = mavlink2.MAV_RESULT_DENIED
FAILED = mavlink2.MAV_RESULT_FAILED
TEMPORARILY_REJECTED = mavlink2.MAV_RESULT_TEMPORARILY_REJECTED

_HOLD_GAIN_PER_S = 1.0  # position-hold P gain: m/s of velocity setpoint per m of error
_LANDED_ALT_M = 0.05
_FORCE_MAGIC = 21196  # ArduPilot's param2 for forced arm/disarm


class CopterMode(enum.IntEnum):
    """ArduCopter custom_mode numbers (HEARTBEAT.custom_mode)."""

    STABILIZE = 0
    ACRO = 1
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    CIRCLE = 7
    LAND = 9
    DRIFT = 11
    SPORT = 13
    FLIP = 14
    AUTOTUNE = 15
    POSHOLD = 16
    BRAKE = 17
    THROW = 18
    AVOID_ADSB = 19
    GUIDED_NOGPS = 20
    SMART_RTL = 21


SIMULATED_MODES = frozenset({CopterMode.STABILIZE, CopterMode.ALT_HOLD, CopterMode.GUIDED, CopterMode.LOITER,
                             CopterMode.RTL, CopterMode.LAND, CopterMode.POSHOLD, CopterMode.BRAKE})
ARMABLE_MODES = frozenset({CopterMode.STABILIZE, CopterMode.ALT_HOLD, CopterMode.GUIDED, CopterMode.LOITER,
                           CopterMode.POSHOLD})
POSITION_MODES = frozenset({CopterMode.GUIDED, CopterMode.LOITER, CopterMode.RTL, CopterMode.POSHOLD,
                            CopterMode.BRAKE})
PILOT_MODES = frozenset({CopterMode.STABILIZE, CopterMode.ALT_HOLD, CopterMode.LOITER, CopterMode.POSHOLD})


class Dynamics(Protocol):
    """What the autopilot needs from the vehicle model (``sim.world.multicopter.Multicopter``)."""

    @property
    def position_ned_m(self) -> np.ndarray: ...
    @property
    def velocity_ned_mps(self) -> np.ndarray: ...
    @property
    def yaw_rad(self) -> float: ...
    @property
    def attitude_rpy_rad(self) -> np.ndarray: ...
    @property
    def on_ground(self) -> bool: ...

    def step(self, dt_s: float, velocity_setpoint_ned_mps: np.ndarray, yaw_rate_setpoint_radps: float,
             wind_ned_mps: np.ndarray) -> object: ...


@dataclass(frozen=True)
class Sender:
    """Who sent a request: MAVLink ids and whether it has identified itself as a ground station
    (HEARTBEAT type ``MAV_TYPE_GCS``, not an onboard-computer component id 191..194)."""

    system_id: int
    component_id: int
    is_ground_station: bool


@dataclass(frozen=True)
class StatusText:
    severity: int
    text: str
    stamp_s: float


class _Guided(enum.Enum):
    IDLE = "idle"  # on the ground
    TAKEOFF = "takeoff"
    HOLD = "hold"
    VELOCITY = "velocity"


class CopterAutopilot:
    """ArduCopter semantics over a :class:`Dynamics` model. ``gps_lock_s``: simulated seconds after start
    before the position estimate is good (arming and position modes are refused until then)."""

    def __init__(self, dynamics: Dynamics, params: ParamStore, *, gps_lock_s: float = 2.0) -> None:
        self.dyn = dynamics
        self.params = params
        self.gps_lock_s = float(gps_lock_s)
        self.time_s = 0.0
        self.armed = False
        self.mode = CopterMode.STABILIZE
        self.home_ned_m = np.array(dynamics.position_ned_m, dtype=float)
        self.fence = FenceGeometry()
        self.rc = RcChannels()
        self.glitches: list[GpsGlitch] = []
        self.mode_log: list[tuple[float, CopterMode, Sender | None]] = []
        #: Requests the safety charter forbids the companion to make (arm/takeoff from component 191..194).
        self.forbidden_requests: list[tuple[float, str, Sender]] = []
        self.guided_timeouts = 0
        self.last_setpoint_s: float | None = None
        self._statustext: list[StatusText] = []
        self._guided = _Guided.IDLE
        self._target_ned_m = np.array(self.home_ned_m)
        self._vel_sp_ned_mps = np.zeros(3)
        self._yaw_rate_sp_radps = 0.0
        self._rtl_phase = "climb"
        self._breached: frozenset[str] = frozenset()
        self._floor_active = False  # FENCE_ALT_MIN applies once the vehicle has been above it
        self._ground_idle_s = 0.0
        self._armed_time_s = 0.0

    # ------------------------------------------------------------------ state
    @property
    def glitch_offset_ned_m(self) -> np.ndarray:
        off = np.zeros(3)
        for g in self.glitches:
            if g.active(self.time_s):
                off += np.asarray(g.offset_ned_m, dtype=float)
        return off

    @property
    def estimated_position_ned_m(self) -> np.ndarray:
        return np.asarray(self.dyn.position_ned_m, dtype=float) + self.glitch_offset_ned_m

    @property
    def position_ok(self) -> bool:
        return self.time_s >= self.gps_lock_s and not any(g.active(self.time_s) for g in self.glitches)

    @property
    def landed(self) -> bool:
        return bool(self.dyn.on_ground)

    @property
    def breached(self) -> frozenset[str]:
        return self._breached

    @property
    def battery_remaining_pct(self) -> float:
        return max(0.0, 100.0 - 100.0 * self._armed_time_s / 1200.0)  # 20 min endurance

    def text(self, severity: int, text: str) -> None:
        log.info("vehicle: %s", text)
        self._statustext.append(StatusText(severity, text[:50], self.time_s))

    def drain_statustext(self) -> list[StatusText]:
        out, self._statustext = self._statustext, []
        return out

    # --------------------------------------------------------------- requests
    def prearm_failure(self) -> str | None:
        """The first failing pre-arm check, as ArduCopter words it, or None when arming may proceed."""
        if self.mode not in ARMABLE_MODES:
            return f"Mode not armable: {self.mode.name}"
        if self.params.get("ARMING_CHECK") == 0:
            return None
        if not self.position_ok:
            return "PreArm: GPS glitching" if self.time_s >= self.gps_lock_s else "PreArm: Need Position Estimate"
        if self.params.get("FENCE_ENABLE") and fence_breaches(
            self.estimated_position_ned_m, self.estimated_position_ned_m, self.fence,
            fence_type=int(self.params.get("FENCE_TYPE")) & 4, alt_max_m=1e9, radius_m=1e9,
        ):
            return "PreArm: Fence: vehicle outside fence"
        return None

    def arm_disarm(self, arm: bool, sender: Sender, *, force: float = 0.0) -> int:
        """``MAV_CMD_COMPONENT_ARM_DISARM``: only a ground station may arm or disarm; returns MAV_RESULT."""
        if not sender.is_ground_station:
            what = "arm" if arm else "disarm"
            self.forbidden_requests.append((self.time_s, what, sender))
            self.text(mavlink2.MAV_SEVERITY_WARNING,
                      f"{what.capitalize()}: denied, {sender.system_id}/{sender.component_id} not a GCS")
            return DENIED
        forced = int(force) == _FORCE_MAGIC
        if not arm:
            if not self.armed:
                return ACCEPTED
            if not self.landed and not forced:
                self.text(mavlink2.MAV_SEVERITY_WARNING, "Disarm: denied, vehicle flying")
                return DENIED
            self._disarm("Disarm: by ground station")
            return ACCEPTED
        if self.armed:
            return ACCEPTED
        failure = None if forced else self.prearm_failure()
        if failure is not None:
            self.text(mavlink2.MAV_SEVERITY_CRITICAL, failure if failure.startswith("PreArm") else f"Arm: {failure}")
            return FAILED
        self.armed = True
        self.home_ned_m = self.estimated_position_ned_m.copy()
        self.home_ned_m[2] = self.dyn.position_ned_m[2]
        self._ground_idle_s = 0.0
        self._guided = _Guided.IDLE
        self.text(mavlink2.MAV_SEVERITY_INFO, "Arming motors")
        return ACCEPTED

    def _disarm(self, why: str) -> None:
        self.armed = False
        self._guided = _Guided.IDLE
        self.text(mavlink2.MAV_SEVERITY_INFO, why)

    def set_mode(self, mode: int, sender: Sender | None) -> int:
        """Mode change request (anyone may ask, as on ArduCopter); returns MAV_RESULT."""
        try:
            m = CopterMode(int(mode))
        except ValueError:
            self.text(mavlink2.MAV_SEVERITY_WARNING, f"Mode change to {mode} failed: unknown mode")
            return FAILED
        if m not in SIMULATED_MODES:
            self.text(mavlink2.MAV_SEVERITY_WARNING, f"Mode change to {m.name} failed: not simulated")
            return FAILED
        if m in POSITION_MODES and not self.position_ok:
            self.text(mavlink2.MAV_SEVERITY_WARNING, f"Mode change to {m.name} failed: requires position")
            return FAILED
        self._enter_mode(m, sender)
        return ACCEPTED

    def _enter_mode(self, m: CopterMode, sender: Sender | None) -> None:
        self.mode = m
        self.mode_log.append((self.time_s, m, sender))
        self._target_ned_m = self.estimated_position_ned_m.copy()
        self._vel_sp_ned_mps = np.zeros(3)
        self._yaw_rate_sp_radps = 0.0
        self._guided = _Guided.IDLE if self.landed else _Guided.HOLD
        self._rtl_phase = "climb"

    def takeoff(self, alt_m: float, sender: Sender) -> int:
        """``MAV_CMD_NAV_TAKEOFF`` (param7 = metres above home), GUIDED and armed on the ground only."""
        if not sender.is_ground_station:
            self.forbidden_requests.append((self.time_s, "takeoff", sender))
            self.text(mavlink2.MAV_SEVERITY_WARNING, "Takeoff: denied, sender not a GCS")
            return DENIED
        if self.mode != CopterMode.GUIDED or not self.armed or not self.landed:
            return TEMPORARILY_REJECTED if self.mode == CopterMode.GUIDED else FAILED
        if not (math.isfinite(alt_m) and 0.5 <= alt_m <= 1000.0):
            return DENIED
        self._guided = _Guided.TAKEOFF
        self._target_ned_m = self.estimated_position_ned_m.copy()
        self._target_ned_m[2] = self.home_ned_m[2] - float(alt_m)
        self.text(mavlink2.MAV_SEVERITY_INFO, f"Takeoff to {alt_m:.1f} m")
        return ACCEPTED

    def guided_velocity(self, velocity_ned_mps: np.ndarray, yaw_rate_radps: float) -> bool:
        """A GUIDED velocity target; accepted only in GUIDED, armed and airborne (False = ignored)."""
        if self.mode != CopterMode.GUIDED or not self.armed or self._guided in (_Guided.IDLE, _Guided.TAKEOFF):
            return False
        v = np.asarray(velocity_ned_mps, dtype=float)
        if v.shape != (3,) or not np.all(np.isfinite(v)) or not math.isfinite(yaw_rate_radps):
            return False
        self._guided = _Guided.VELOCITY
        self._vel_sp_ned_mps = v.copy()
        self._yaw_rate_sp_radps = float(yaw_rate_radps)
        self.last_setpoint_s = self.time_s
        return True

    def set_fence(self, geometry: FenceGeometry) -> None:
        self.fence = geometry

    # ------------------------------------------------------------------- step
    def step(self, dt_s: float, wind_ned_mps: np.ndarray) -> None:
        """Advance the flight logic and the dynamics by ``dt_s`` seconds."""
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"dt_s {dt_s} must be finite and > 0")
        self.rc.expire(self.time_s)
        if self.armed:
            v_sp, yaw_rate = self._setpoint(dt_s)
            self.dyn.step(dt_s, v_sp, yaw_rate, np.asarray(wind_ned_mps, dtype=float))
            self._armed_time_s += dt_s
        self.time_s += dt_s
        if self.armed:
            self._after_step(dt_s)

    def _hold(self, target_ned_m: np.ndarray, speed_xy_mps: float, up_mps: float, down_mps: float) -> np.ndarray:
        err = target_ned_m - self.estimated_position_ned_m
        v = _HOLD_GAIN_PER_S * err
        n = math.hypot(v[0], v[1])
        if n > speed_xy_mps:
            v[:2] *= speed_xy_mps / n
        v[2] = min(max(v[2], -up_mps), down_mps)
        return v

    def _setpoint(self, dt_s: float) -> tuple[np.ndarray, float]:
        p = self.params
        speed_xy = p.get("WPNAV_SPEED") / 100.0
        up = p.get("WPNAV_SPEED_UP") / 100.0
        dn = p.get("WPNAV_SPEED_DN") / 100.0
        m = self.mode
        if m == CopterMode.GUIDED:
            if self._guided == _Guided.VELOCITY:
                if self.time_s - (self.last_setpoint_s or 0.0) > p.get("GUID_TIMEOUT"):
                    if np.any(self._vel_sp_ned_mps) or self._yaw_rate_sp_radps:
                        self.guided_timeouts += 1
                        log.info("GUIDED: no setpoint for %.2f s: braking", p.get("GUID_TIMEOUT"))
                    self._vel_sp_ned_mps = np.zeros(3)
                    self._yaw_rate_sp_radps = 0.0
                return self._vel_sp_ned_mps.copy(), self._yaw_rate_sp_radps
            if self._guided == _Guided.TAKEOFF:
                v = self._hold(self._target_ned_m, speed_xy, up, dn)
                v[2] = -up if self.estimated_position_ned_m[2] > self._target_ned_m[2] + 1.0 else v[2]
                return v, 0.0
            if self._guided == _Guided.HOLD:
                return self._hold(self._target_ned_m, speed_xy, up, dn), 0.0
            return np.zeros(3), 0.0
        if m == CopterMode.BRAKE:
            return self._hold(self._target_ned_m, speed_xy, up, dn), 0.0
        if m == CopterMode.RTL:
            return self._rtl_setpoint(speed_xy, up, dn), 0.0
        if m == CopterMode.LAND:
            return self._land_setpoint(self._target_ned_m), 0.0
        # pilot modes: sticks command velocity; the held target follows the pilot
        v, yaw_rate = pilot_velocity(self.rc, self.dyn.yaw_rad, p)
        if self.landed and v[2] >= 0.0:
            return np.zeros(3), 0.0
        hold = self._hold(self._target_ned_m, speed_xy, up, dn)
        for i in range(3):
            if v[i] != 0.0:
                hold[i] = v[i]
                self._target_ned_m[i] = self.estimated_position_ned_m[i]
        return hold, yaw_rate

    def _land_setpoint(self, over_ned_m: np.ndarray) -> np.ndarray:
        p = self.params
        v = self._hold(over_ned_m, p.get("WPNAV_SPEED") / 100.0, 0.0, 0.0)
        alt = float(self.home_ned_m[2] - self.estimated_position_ned_m[2])
        high = p.get("LAND_SPEED_HIGH") or p.get("WPNAV_SPEED_DN")
        v[2] = (high if alt > 10.0 else p.get("LAND_SPEED")) / 100.0
        return v

    def _rtl_alt_m(self) -> float:
        p = self.params
        alt = p.get("RTL_ALT") / 100.0
        if p.get("FENCE_ENABLE") and int(p.get("FENCE_TYPE")) & 1:
            alt = min(alt, p.get("FENCE_ALT_MAX") - p.get("FENCE_MARGIN"))
        return alt

    def _rtl_setpoint(self, speed_xy: float, up: float, dn: float) -> np.ndarray:
        pos = self.estimated_position_ned_m
        home = self.home_ned_m
        target_z = min(float(pos[2]), float(home[2]) - self._rtl_alt_m())
        if self._rtl_phase == "climb":
            if pos[2] <= target_z + 0.5:
                self._rtl_phase = "return"
                self._target_ned_m = np.array([home[0], home[1], target_z])
            else:
                return self._hold(np.array([pos[0], pos[1], target_z]), speed_xy, up, dn)
        if self._rtl_phase == "return":
            if math.hypot(*(pos[:2] - home[:2])) < 1.0:
                self._rtl_phase = "land"
            else:
                return self._hold(self._target_ned_m, speed_xy, up, dn)
        return self._land_setpoint(np.array(home))

    def _after_step(self, dt_s: float) -> None:
        if (self.mode == CopterMode.GUIDED and self._guided == _Guided.TAKEOFF
                and self.estimated_position_ned_m[2] <= self._target_ned_m[2] + 0.2):
            self._guided = _Guided.HOLD
            self.text(mavlink2.MAV_SEVERITY_INFO, "Takeoff complete")
        landing = self.mode == CopterMode.LAND or (self.mode == CopterMode.RTL and self._rtl_phase == "land")
        if landing and self.landed:
            self._disarm("Land complete: disarming")
            return
        climbing = self._guided == _Guided.TAKEOFF or (
            self.mode in PILOT_MODES and pilot_velocity(self.rc, 0.0, self.params)[0][2] < 0.0)
        delay = self.params.get("DISARM_DELAY")
        self._ground_idle_s = self._ground_idle_s + dt_s if self.landed and not climbing else 0.0
        if delay > 0 and self._ground_idle_s >= delay:
            self._disarm("Disarming: idle on the ground")
            return
        self._check_fence()

    def _check_fence(self) -> None:
        p = self.params
        if not p.get("FENCE_ENABLE") or self.landed:
            self._breached = frozenset()
            self._floor_active = False
            return
        alt_above_home_m = float(self.home_ned_m[2] - self.estimated_position_ned_m[2])
        self._floor_active = self._floor_active or alt_above_home_m > p.get("FENCE_ALT_MIN")
        now = fence_breaches(self.estimated_position_ned_m, self.home_ned_m, self.fence,
                             fence_type=int(p.get("FENCE_TYPE")), alt_max_m=p.get("FENCE_ALT_MAX"),
                             radius_m=p.get("FENCE_RADIUS"),
                             alt_min_m=p.get("FENCE_ALT_MIN") if self._floor_active else None)
        new = now - self._breached
        if now and not self._breached:
            action = int(p.get("FENCE_ACTION"))
            self.text(mavlink2.MAV_SEVERITY_CRITICAL, f"Fence Breached: {','.join(sorted(new))}")
            target = {0: None, 2: CopterMode.LAND, 4: CopterMode.BRAKE}.get(action, CopterMode.RTL)
            if target is not None and self.mode not in (CopterMode.RTL, CopterMode.LAND):
                self._enter_mode(target, None)
        elif not now and self._breached:
            self.text(mavlink2.MAV_SEVERITY_INFO, "Fence breach cleared")
        self._breached = now
