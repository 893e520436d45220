"""The safety governor: run-time assurance between the follow controller and the autopilot.

It decides what may actually be sent. It is pure (no I/O, explicit time ``now_s``), fails closed, and
never raises: any exception inside :meth:`SafetyGovernor.step` becomes a HOLD naming
``limits.INTERNAL_ERROR``. Rules, in order (see DESIGN.md, safety charter items 1-5):

1. **Gates -> HOLD** (zero velocity and yaw rate, verdict HOLD, every failing gate named): operator not
   engaged, dead-man lost, not armed, mode not GUIDED/OFFBOARD (these four also set ``engaged=False``:
   the pipeline then sends nothing and the operator flies), link down, vehicle state or perception older
   than ``stale_input_s`` (or newer by as much: a clock fault), a reported position the vehicle could not have
   flown to (:mod:`plausibility`, a GPS glitch; latched), any NaN/inf input, no or stale proposed
   command, subject estimate invalid or older than ``stale_input_s + subject_lost_timeout_s``. A HOLD
   lasting ``hold_to_mode_request_s`` while engaged adds ``mode_request=BRAKE``.
2. **Soft shaping** of the proposal: horizontal/vertical speed and yaw-rate caps (config, never above
   the hard limits in ``config/limits.py`` even for an unvalidated config); an acceleration cap on the
   change vs the previous output (vs the vehicle's velocity on the first call after engaging); the
   unobserved-direction cap (:func:`standoff.sector_project`).
3. **Hard constraints** (the result of step 2 is projected onto them with minimum change, so the
   reductions they demand are never slowed by the accel cap): one half-space per person (standoff /
   closing speed, relative to the person's velocity, see :mod:`standoff`), the fence on the predicted
   stopping point (polygon, floor, ceiling, tether; kept ``FENCE_EPS_M`` inside, plus
   :attr:`SafetyGovernor.disturbance_allowance_m` while the vehicle has lately not flown what it was
   commanded: a gust), the speed caps, and the unobserved-direction set
   when it is convex (it is dropped, i.e. people win, when it cannot be met together with them).
   All constraints are evaluated where the vehicle will be when the command takes effect
   (``p + v_vehicle*command_latency_s``, people predicted to the same instant): commands already in flight
   cannot be taken back, and ignoring them lets the delay overshoot the boundary.
   If the people constraints cannot all be met, the best-effort fan of :class:`solver.VelocityConstraints`
   picks the command that breaks the fence least (not at all when it can), then has the largest worst-case
   opening rate (climbing when that helps); ``GovernorOutput.feasible`` is False and the verdict LIMITED.
4. **Output**: verdict PASS (unchanged), LIMITED or HOLD; ``limits_applied`` names every limit that
   changed the command (or was active in the projection); ``expires_at_s = now_s + command_ttl_s``.

The time ``T`` a command may keep flying is ``command_latency_s + command_ttl_s +
autopilot_command_timeout_s + braking_decel_mps2 / braking_jerk_mps3`` (latency, then the bridge may send it
until it expires, then the autopilot keeps flying it until its own offboard-loss timeout, then its brake ramps
in at its jerk limit, bounded here as if at full speed). Detecting a lost link takes the companion at most
0.5 s (telemetry silence) and plays no part in ``T``: the vehicle coasts on the last command it received,
whenever the companion notices.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from drone_perception.config import limits as H
from drone_perception.config.bounds import Bounds, field_bounds
from drone_perception.config.envelope import ground_safe_height_m
from drone_perception.config.perception import CameraConfig
from drone_perception.config.safety import FenceConfig, SafetyConfig
from drone_perception.control import limits as L
from drone_perception.control.geofence import Geofence, stopping_point
from drone_perception.control.plausibility import PositionCheck
from drone_perception.control.sight import SIGHT_REACTION_S, sight_range_m, sight_speed_cap_mps
from drone_perception.control.solver import VelocityConstraints
from drone_perception.control.standoff import (
    FENCE_EPS_M,
    FENCE_RETURN_MAX_MPS,
    STANDOFF_EPS_M,
    HalfSpace,
    PersonRow,
    Vec,
    as_vec,
    fence_sets,
    people_halfspaces,
    sector_is_convex,
    sector_project,
)
from drone_perception.types import (
    COMPANION_CONTROL_MODES,
    ModeRequest,
    OperatorInput,
    People,
    SafeCommand,
    TargetEstimate,
    VehicleState,
    VelocityCommand,
    Verdict,
)

log = logging.getLogger(__name__)

#: The previous output is the accel-cap reference only while younger than this (s).
ACCEL_REFERENCE_MAX_AGE_S = 0.5
#: Control period assumed for the accel cap on the first call after engaging (s).
NOMINAL_PERIOD_S = 0.05
#: The fence margin grows by the vehicle's recent velocity tracking error (measured velocity against the last
#: command, its peak decaying with this time constant, s) times ``DISTURBANCE_RESPONSE_S``: the stopping point is
#: predicted from the commanded motion, and a gust the autopilot has not yet cancelled carries the vehicle past
#: it. Found by the campaign: leave_fence in 7 m/s wind with 3 m/s gusts crossed the fence by 0.10 m with the
#: fixed 0.5 m margin alone.
DISTURBANCE_DECAY_S = 3.0
#: Seconds of the tracking error the fence margin allows for (m of margin per m/s of error).
DISTURBANCE_RESPONSE_S = 1.0
#: The disturbance allowance is capped (m); a vehicle pushed harder than this is steered back by the return.
DISTURBANCE_ALLOWANCE_MAX_M = 3.0
_ACTIVE_TOL = 1e-6
#: A person last seen more than this (s) before the people's stamp is not seen now (remembered).
_SEEN_TOL_S = 1e-6


@dataclass(frozen=True)
class GovernorInput:
    """Everything one governor step looks at. ``now_s``: monotonic seconds. ``proposed``: the follow
    controller's command, None when it proposed nothing. ``people``: everyone to keep clear of (the
    subject estimate is added to them again as a person). ``perception_stamp_s``: stamp of the newest
    perception result. ``observed_sector``: ``(center_yaw_rad, half_width_rad)`` of the horizontal
    directions the camera has recently observed (yaw 0 = north, positive east); None = nothing."""

    now_s: float
    proposed: VelocityCommand | None
    vehicle: VehicleState
    people: People
    subject: TargetEstimate
    operator: OperatorInput
    perception_stamp_s: float
    observed_sector: tuple[float, float] | None


@dataclass(frozen=True)
class GovernorOutput:
    """The decision plus diagnostics for the flight record.

    ``engaged``: False -> the pipeline sends nothing at all (the operator flies). ``min_separation_m``:
    3D distance vehicle -> nearest person body (2 m vertical segment), nothing subtracted; None without
    people. ``stopping_point_ned_m``: where the vehicle stops if, from where it will be when the command
    takes effect (``p + v_vehicle*command_latency_s``), the output keeps flying for ``T`` and the vehicle
    then brakes along its velocity (NaN when the vehicle state is not finite; the current position on a
    HOLD). ``fence_margin_m``: signed fence margin of
    that point (>0 inside; NaN likewise). ``feasible``: False when the people constraints could not all
    be met and the output is the best-effort escape.
    """

    safe: SafeCommand
    engaged: bool
    min_separation_m: float | None
    stopping_point_ned_m: np.ndarray
    fence_margin_m: float
    feasible: bool = True


#: The SafetyConfig fields the governor re-checks at run time, each with its fail-closed fallback: the value
#: used when the field is not a finite number, or lies at or past an exclusive bound (a speed cap <= 0).
#: Every fallback is at least as strict as the default: no motion for the caps, the longest legal budget
#: for latency, the autopilot timeout and the uncertainty growth.
SAFETY_FALLBACKS: Mapping[str, float] = MappingProxyType({
    "min_standoff_m": H.HARD_MIN_STANDOFF_M * 2,
    "max_horizontal_speed_mps": 0.0,
    "max_vertical_speed_mps": 0.0,
    "max_accel_mps2": 0.0,
    "braking_decel_mps2": 1.0,
    "braking_jerk_mps3": field_bounds(SafetyConfig, "braking_jerk_mps3").lo,
    "max_yaw_rate_radps": 0.0,
    "command_ttl_s": 0.1,
    "stale_input_s": 0.5,
    "subject_lost_timeout_s": 0.0,
    "hold_to_mode_request_s": 0.5,
    "unobserved_speed_mps": 0.0,
    "design_person_speed_mps": field_bounds(SafetyConfig, "design_person_speed_mps").hi,
    "command_latency_s": field_bounds(SafetyConfig, "command_latency_s").hi,
    "autopilot_command_timeout_s": field_bounds(SafetyConfig, "autopilot_command_timeout_s").hi,
})
#: Fields for which a higher value is the stricter one (a wider standoff, a longer budget): a value above the
#: config's maximum (only an unvalidated config has one) is used as given, never clamped down to a looser one.
HIGHER_IS_STRICTER: frozenset[str] = frozenset({
    "min_standoff_m", "design_person_speed_mps", "command_latency_s", "autopilot_command_timeout_s"})
# The ranges are the config's own Field bounds (one source): they cannot drift from what a load accepts.
_BOUNDS: Mapping[str, Bounds] = MappingProxyType({n: field_bounds(SafetyConfig, n) for n in SAFETY_FALLBACKS})


def governor_bounds(name: str) -> Bounds:
    """The range the governor allows for the SafetyConfig field ``name`` (the config's own range)."""
    return _BOUNDS[name]


def _sane(cfg: SafetyConfig, name: str) -> float:
    """Field ``name`` of ``cfg`` as the governor uses it. A finite value inside the config's range is used as
    given; above the maximum of a :data:`HIGHER_IS_STRICTER` field it is used as given too (stricter); past
    any other inclusive bound it is clamped to that bound; :data:`SAFETY_FALLBACKS` ``[name]`` when it is not a
    finite number or lies at or past an exclusive bound."""
    b, fallback = _BOUNDS[name], SAFETY_FALLBACKS[name]
    try:
        v = float(getattr(cfg, name))
    except (AttributeError, TypeError, ValueError):
        return fallback
    if not math.isfinite(v):
        return fallback
    if v < b.lo or (v == b.lo and not b.lo_inclusive):
        return b.lo if b.lo_inclusive else fallback
    if v > b.hi or (v == b.hi and not b.hi_inclusive):
        if name in HIGHER_IS_STRICTER:
            return v
        return b.hi if b.hi_inclusive else fallback
    return v


class _Lists:
    """The numeric inputs flattened to Python floats once (for the NaN gate)."""

    __slots__ = ("people", "proposed", "subject", "vehicle")

    def __init__(self, inp: GovernorInput) -> None:
        veh, ppl, subj = inp.vehicle, inp.people, inp.subject
        self.vehicle = [*veh.position_ned_m.tolist(), *veh.velocity_ned_mps.tolist(),
                        *veh.attitude_rpy_rad.tolist()]
        self.people = [*ppl.position_ned_m.ravel().tolist(), *ppl.velocity_ned_mps.ravel().tolist(),
                       *ppl.uncertainty_m.tolist()]
        self.proposed = inp.proposed.velocity_ned_mps.tolist() if inp.proposed is not None else []
        self.subject = ([*subj.position_ned_m.tolist(), *subj.velocity_ned_mps.tolist(),
                         *subj.cov_ned_m2.ravel().tolist()] if subj.valid else [])


class SafetyGovernor:
    """Run-time assurance. Stateful only for the accel cap and the hold timer; :meth:`reset` clears it."""

    def __init__(self, safety: SafetyConfig, fence: FenceConfig, camera: CameraConfig | None = None) -> None:
        s = safety
        # Defence in depth: re-check every value, even of a config built without validation (model_construct).
        self.standoff_m = _sane(s, "min_standoff_m")
        self.vh_mps = _sane(s, "max_horizontal_speed_mps")
        self.vv_mps = _sane(s, "max_vertical_speed_mps")
        self.accel_mps2 = _sane(s, "max_accel_mps2")
        self.decel_mps2 = _sane(s, "braking_decel_mps2")
        self.jerk_mps3 = _sane(s, "braking_jerk_mps3")
        self.yaw_rate_radps = _sane(s, "max_yaw_rate_radps")
        self.ttl_s = _sane(s, "command_ttl_s")
        self.stale_s = _sane(s, "stale_input_s")
        self.subject_timeout_s = _sane(s, "subject_lost_timeout_s")
        self.hold_to_mode_s = _sane(s, "hold_to_mode_request_s")
        self.unobserved_mps = _sane(s, "unobserved_speed_mps")
        #: Design person speed (m/s): how fast an unseen person's disc grows, in any direction.
        self.growth_mps = _sane(s, "design_person_speed_mps")
        self.latency_s = _sane(s, "command_latency_s")
        #: How long the autopilot keeps flying the last setpoint after the stream stops (s).
        self.autopilot_timeout_s = _sane(s, "autopilot_command_timeout_s")
        #: Time a command may keep flying before braking at ``decel_mps2`` starts (s); the brake's jerk-limited
        #: ramp is bounded as if flown at full speed (a / j).
        self.horizon_s = (self.latency_s + self.ttl_s + self.autopilot_timeout_s
                          + self.decel_mps2 / self.jerk_mps3)
        self.max_speed_mps = math.hypot(self.vh_mps, self.vv_mps)
        #: Bound on T + |v|/(2a) for every admissible v (s).
        self.tau_max_s = self.horizon_s + self.max_speed_mps / (2.0 * self.decel_mps2)
        self._fence_reach_m = self.max_speed_mps * self.tau_max_s + FENCE_EPS_M + DISTURBANCE_ALLOWANCE_MAX_M + 1.0
        #: Fastest return demanded when outside the fence margin (m/s): half the smaller cap, so that it can be
        #: met together with the caps (and leave room for people constraints).
        self._return_mps = min(FENCE_RETURN_MAX_MPS, 0.5 * min(self.vh_mps, self.vv_mps))
        self.fence = Geofence(fence)
        #: Below this height (m above the ground) a person on the ground could come within the standoff ...
        self.ground_safe_m = ground_safe_height_m(self.standoff_m) + STANDOFF_EPS_M
        cam = camera if camera is not None else CameraConfig()
        #: ... and the horizontal speed is capped so that one first found at the detector's reliable range (m)
        #: can still be kept out (issue 11 item 5, :mod:`drone_perception.control.sight`).
        self.sight_range_m = sight_range_m(cam.hfov_rad, cam.rate_hz)
        self.sight_mps = sight_speed_cap_mps(
            self.sight_range_m, self.standoff_m, self.growth_mps, reaction_s=SIGHT_REACTION_S,
            decel_mps2=self.decel_mps2, horizon_s=self.horizon_s, max_speed_mps=self.vh_mps)
        #: Reported positions are believed only when the vehicle could have flown there (GPS glitches).
        self.position_check = PositionCheck()
        self._prev_v: Vec | None = None
        self._prev_t = 0.0
        self._hold_since_s: float | None = None
        self._last_now_s = 0.0
        #: Peak velocity tracking error (m/s), decaying (DISTURBANCE_DECAY_S), and when it was last updated.
        self._drift_mps = 0.0
        self._drift_t: float | None = None

    @property
    def disturbance_allowance_m(self) -> float:
        """What the fence margin adds to ``FENCE_EPS_M`` now (m): the recent tracking error times
        ``DISTURBANCE_RESPONSE_S``, at most ``DISTURBANCE_ALLOWANCE_MAX_M``."""
        return min(DISTURBANCE_RESPONSE_S * self._drift_mps, DISTURBANCE_ALLOWANCE_MAX_M)

    def _track_disturbance(self, veh: VehicleState, now: float) -> None:
        """Fold in how far the vehicle's velocity is from the last command (only while that command is fresh)."""
        if self._drift_t is not None and now >= self._drift_t:
            self._drift_mps *= math.exp(-(now - self._drift_t) / DISTURBANCE_DECAY_S)
        self._drift_t = now
        if self._prev_v is None or not (0.0 <= now - self._prev_t <= ACCEL_REFERENCE_MAX_AGE_S):
            return
        v = veh.velocity_ned_mps.tolist()
        c = self._prev_v
        err = math.sqrt((v[0] - c[0]) ** 2 + (v[1] - c[1]) ** 2 + (v[2] - c[2]) ** 2)
        if math.isfinite(err) and err > self._drift_mps:
            self._drift_mps = err

    def reset(self) -> None:
        """Forget the previous output and the hold timer (call on disengage / new session); the next reported
        position is believed as it is (re-engaging is the operator's decision). The disturbance estimate is
        kept: the wind does not stop when the operator disengages."""
        self._prev_v = None
        self._hold_since_s = None
        self.position_check.reset()

    # ---------------------------------------------------------------------------------------------
    def step(self, inp: GovernorInput) -> GovernorOutput:
        """One decision. Never raises; see the module docstring for the rules."""
        try:
            return self._step(inp)
        except Exception:
            log.exception("safety governor internal error; holding")
            engaged = True
            try:
                engaged = bool(inp.operator.engaged and inp.operator.deadman_ok and inp.vehicle.armed
                               and inp.vehicle.mode in COMPANION_CONTROL_MODES)
            except Exception:
                engaged = True
            return self._hold(inp, frozenset({L.INTERNAL_ERROR}), engaged)

    def _now(self, inp: GovernorInput) -> float:
        try:
            now = float(inp.now_s)
        except Exception:
            now = math.nan
        return now if math.isfinite(now) else self._last_now_s

    def _hold(self, inp: GovernorInput, limits: frozenset[str], engaged: bool) -> GovernorOutput:
        """A HOLD (never raises). The stamp falls back to the last finite ``now_s`` if needed."""
        now = self._now(inp)
        mode_request = None
        if engaged:
            if self._hold_since_s is None or now < self._hold_since_s:
                self._hold_since_s = now
            if now - self._hold_since_s >= self.hold_to_mode_s:
                mode_request = ModeRequest.BRAKE
            self._prev_v, self._prev_t = (0.0, 0.0, 0.0), now
        else:
            self.reset()
        nan3 = np.full(3, np.nan)
        sp, margin = nan3, math.nan
        try:
            pos = inp.vehicle.position_ned_m
            if np.isfinite(pos).all():
                sp = np.array(pos, dtype=np.float64)
                margin = self.fence.margin_m(sp)
        except Exception:
            pass
        safe = SafeCommand(VelocityCommand.hold(now), Verdict.HOLD, limits, now + self.ttl_s, mode_request)
        return GovernorOutput(safe, engaged, None, sp, margin, True)

    def _gates(self, inp: GovernorInput, now: float, now_ok: bool, lists: _Lists) -> list[str]:
        op, veh, s = inp.operator, inp.vehicle, self.stale_s
        gates: list[str] = []
        if not op.engaged:
            gates.append(L.NOT_ENGAGED)
        if not op.deadman_ok:
            gates.append(L.DEADMAN)
        if not veh.armed:
            gates.append(L.NOT_ARMED)
        if veh.mode not in COMPANION_CONTROL_MODES:
            gates.append(L.WRONG_MODE)
        if not veh.link_ok:
            gates.append(L.LINK_LOST)
        if not self.position_check.believed(veh):
            gates.append(L.POSITION_JUMP)
        if not abs(now - veh.stamp_s) <= s:  # written so that NaN fails the gate
            gates.append(L.STALE_VEHICLE)
        if not abs(now - float(inp.perception_stamp_s)) <= s:
            gates.append(L.STALE_PERCEPTION)
        subj, prop, sector = inp.subject, inp.proposed, inp.observed_sector
        # sum() of the values is finite iff every value is (an absurd overflow also fails: closed)
        total = (sum(lists.vehicle) + sum(lists.people) + veh.stamp_s + inp.people.stamp_s
                 + (0.0 if prop is None else sum(lists.proposed) + prop.yaw_rate_radps + prop.stamp_s)
                 + (sum(lists.subject) + subj.stamp_s if subj.valid else 0.0)
                 + (0.0 if sector is None else float(sector[0]) + float(sector[1])))
        if not (now_ok and math.isfinite(total)):
            gates.append(L.NAN_INPUT)
        if prop is None or not abs(now - prop.stamp_s) <= s:
            gates.append(L.NO_COMMAND)
        if not subj.valid or not now - subj.stamp_s <= s + self.subject_timeout_s:
            gates.append(L.SUBJECT_LOST)
        return gates

    def _people_constraints(self, inp: GovernorInput, p_act: Vec, p: Vec,
                            now: float) -> tuple[list[HalfSpace], float | None]:
        """Half-spaces for the vehicle at ``p_act`` (people predicted to the same instant), and the 3D
        separation of ``p`` from the nearest body now."""
        people = inp.people
        age = min(max(now - people.stamp_s, 0.0), self.stale_s)
        # A person not seen in the newest perception (remembered) may be running at the vehicle at the design
        # speed, whatever their last velocity: their disc's edge comes at it at that speed.
        seen_s = people.stamp_s - _SEEN_TOL_S
        g = self.growth_mps
        rows: list[PersonRow] = [
            (pos, vel, sig, 0.0, 0.0 if last >= seen_s else g) for pos, vel, sig, last in zip(
                people.position_ned_m.tolist(), people.velocity_ned_mps.tolist(), people.uncertainty_m.tolist(),
                people.last_seen_s.tolist())]
        subj = inp.subject
        if subj.valid:  # defence in depth: the subject is a person even if People missed it
            cov = subj.cov_ned_m2.tolist()
            sage = min(max(now - subj.stamp_s, 0.0), self.stale_s + self.subject_timeout_s)
            sp, sv = subj.position_ned_m.tolist(), subj.velocity_ned_mps.tolist()
            shift = sage - age  # rows are predicted by ``age``; shift the subject to the same instant
            rows.append(([sp[0] + sv[0] * shift, sp[1] + sv[1] * shift, sp[2] + sv[2] * shift], sv,
                         math.sqrt(max(0.0, cov[0][0], cov[1][1])), self.growth_mps * max(0.0, shift), 0.0))
        return people_halfspaces(
            rows, p_act, p, age_s=age, latency_s=self.latency_s, growth_mps=self.growth_mps,
            standoff_m=self.standoff_m, decel_mps2=self.decel_mps2, horizon_s=self.horizon_s,
            max_speed_mps=self.max_speed_mps, stop_s=self.tau_max_s)

    def _step(self, inp: GovernorInput) -> GovernorOutput:
        now_raw = float(inp.now_s)
        now_ok = math.isfinite(now_raw)
        now = now_raw if now_ok else self._last_now_s
        self._last_now_s = now
        gates = self._gates(inp, now, now_ok, _Lists(inp))
        if gates:
            engaged = not any(g in L.DISENGAGING_GATES for g in gates)
            if engaged and set(gates) <= L.EVADING_GATES:
                return self._evade(inp, frozenset(gates), now)
            return self._hold(inp, frozenset(gates), engaged)
        prop = inp.proposed
        assert prop is not None  # the NO_COMMAND gate guarantees it
        return self._shape(inp, prop, now)

    def _evade(self, inp: GovernorInput, gates: frozenset[str], now: float) -> GovernorOutput:
        """Hold, but keep protecting people and the fence: the zero command goes through the hard constraints,
        so a person running at a holding vehicle (the subject lost from view, say) still makes it back off or
        climb, and a vehicle the wind pushed within the fence margin or out of the fence is steered back in
        (#12 item 6: holding at zero velocity in a gust let it drift out). Returns a plain HOLD when zero
        already satisfies every constraint (or would move less than ``_EVADE_MIN_MPS``: numerical noise)."""
        hold = VelocityCommand.hold(now)
        out = self._shape(inp, hold, now, soft=False)
        steered = float(np.linalg.norm(out.safe.command.velocity_ned_mps)) > _EVADE_MIN_MPS
        if (out.safe.verdict is Verdict.PASS or not steered
                or not out.safe.limits_applied & (_PEOPLE_LIMITS | _FENCE_LIMITS)):
            return self._hold(inp, gates, True)
        mode_request = None
        if self._hold_since_s is None or now < self._hold_since_s:
            self._hold_since_s = now
        if now - self._hold_since_s >= self.hold_to_mode_s:
            mode_request = ModeRequest.BRAKE
        safe = SafeCommand(out.safe.command, Verdict.LIMITED, out.safe.limits_applied | gates,
                           out.safe.expires_at_s, mode_request)
        return dataclasses.replace(out, safe=safe)

    def _shape(self, inp: GovernorInput, prop: VelocityCommand, now: float, *, soft: bool = True) -> GovernorOutput:
        """Caps, accel limit and unobserved-direction cap (``soft``), then the hard constraints."""
        veh = inp.vehicle
        p = as_vec(veh.position_ned_m.tolist())
        v_prop = as_vec(prop.velocity_ned_mps.tolist())
        limits: set[str] = set()

        # -- 2. soft shaping ------------------------------------------------------------------------
        yaw = prop.yaw_rate_radps
        sector = inp.observed_sector
        if abs(yaw) > self.yaw_rate_radps:
            yaw = math.copysign(self.yaw_rate_radps, yaw)
            limits.add(L.YAW_RATE_CAP)
        v = self._caps(v_prop, limits)
        if soft:  # evading from a hold: only the hard constraints below apply
            v = self._accel_and_sector(v, veh, sector, now, limits)

        # -- 3. hard constraints ----------------------------------------------------------------------
        # Evaluated where the vehicle will be when this command takes effect (after the latency, at its
        # current velocity): the commands already in flight cannot be taken back.
        vv = veh.velocity_ned_mps.tolist()
        lat = self.latency_s
        p_act = (p[0] + vv[0] * lat, p[1] + vv[1] * lat, p[2] + vv[2] * lat)
        people_hs, min_sep = self._people_constraints(inp, p_act, p, now)
        self._track_disturbance(veh, now)
        fence_hs, balls = fence_sets(self.fence, p_act, self.tau_max_s, self._fence_reach_m, self._return_mps,
                                     FENCE_EPS_M + self.disturbance_allowance_m)
        cons = VelocityConstraints(people_hs, fence_hs, balls, self.vh_mps, self.vv_mps, sector,
                                   self.unobserved_mps)
        feasible = True
        x: Vec | None = v
        if not cons.feasible(v, use_sector=False):
            violated = cons.violated(v)
            v_try = v
            if any(name in _PEOPLE_LIMITS for name in cons.violated((0.0, 0.0, 0.0))):
                # Even stopping is not enough: a person is inside the boundary or closing on the vehicle
                # faster than it may stop. Climb as hard as allowed while backing off: height is the escape
                # that always exists (people are on the ground, the ceiling is a constraint of its own), and
                # the one that works against someone faster than the vehicle. When stopping would do, the
                # minimum change is kept (no needless climb that would lose the subject below the image).
                v_try = (v[0], v[1], -self.vv_mps)
            elif any(name in _PEOPLE_LIMITS for name in violated) and v[2] > 0.0:
                # Close enough to a person that a limit binds: never descend towards them (lower is where a
                # runner can get under the vehicle); keep the rest of the minimum change.
                v_try = (v[0], v[1], 0.0)
            x, feasible = self._solve(cons, v_try, sector)
            limits.update(violated)
            limits.update(cons.active(x, _ACTIVE_TOL))
            if math.hypot(x[0], x[1]) >= self.vh_mps - _ACTIVE_TOL:
                limits.add(L.SPEED_CAP)
            if abs(x[2]) >= self.vv_mps - _ACTIVE_TOL:
                limits.add(L.VERTICAL_SPEED_CAP)
        assert x is not None
        isfinite = math.isfinite
        if not (isfinite(x[0]) and isfinite(x[1]) and isfinite(x[2]) and isfinite(yaw)):
            raise FloatingPointError(f"non-finite governor output {x}, yaw {yaw}")

        # -- 4. output ------------------------------------------------------------------------------
        # An infeasible step is never a PASS, even when the best effort equals the proposal: the record must show
        # the limits the command could not keep.
        changed = x != v_prop or yaw != prop.yaw_rate_radps or not feasible
        verdict = Verdict.LIMITED if changed else Verdict.PASS
        if not changed:
            limits.clear()
        cmd = VelocityCommand(np.array(x), yaw, now)
        safe = SafeCommand(cmd, verdict, frozenset(limits), now + self.ttl_s, None)
        self._prev_v, self._prev_t = x, now
        self._hold_since_s = None
        sp = stopping_point(p_act, x, decel_mps2=self.decel_mps2, latency_s=self.horizon_s)
        return GovernorOutput(safe, True, min_sep, sp, self.fence.margin_m(sp.tolist()), feasible)

    def _accel_and_sector(self, v: Vec, veh: VehicleState, sector: tuple[float, float] | None, now: float,
                          limits: set[str]) -> Vec:
        if self._prev_v is not None and 0.0 <= now - self._prev_t <= ACCEL_REFERENCE_MAX_AGE_S:
            ref, dt = self._prev_v, now - self._prev_t
        else:
            ref, dt = as_vec(veh.velocity_ned_mps.tolist()), NOMINAL_PERIOD_S
        dn, de, dd = v[0] - ref[0], v[1] - ref[1], v[2] - ref[2]
        dv = math.sqrt(dn * dn + de * de + dd * dd)
        dv_max = self.accel_mps2 * dt
        if dv > dv_max:
            k = dv_max / dv
            v = (ref[0] + dn * k, ref[1] + de * k, ref[2] + dd * k)
            limits.add(L.ACCEL_CAP)
            v = self._caps(v, limits)
        vs = sector_project(v, sector, self.unobserved_mps)
        if vs != v:
            limits.add(L.UNOBSERVED_DIRECTION)
            v = vs
        if -float(veh.position_ned_m[2]) < self.ground_safe_m:
            sp = math.hypot(v[0], v[1])
            if sp > self.sight_mps:  # speed bounded by sight; climbing (out of the envelope's gap) stays free
                k = self.sight_mps / sp
                v = (v[0] * k, v[1] * k, v[2])
                limits.add(L.SIGHT_RANGE)
        return v

    def _caps(self, v: Vec, limits: set[str]) -> Vec:
        vn, ve, vd = v
        sp = math.hypot(vn, ve)
        if sp > self.vh_mps:
            k = self.vh_mps / sp
            vn, ve = vn * k, ve * k
            limits.add(L.SPEED_CAP)
        if abs(vd) > self.vv_mps:
            vd = math.copysign(self.vv_mps, vd)
            limits.add(L.VERTICAL_SPEED_CAP)
        return (vn, ve, vd)

    def _solve(self, cons: VelocityConstraints, v: Vec, sector: tuple[float, float] | None) -> tuple[Vec, bool]:
        """Projection with the sector set if possible, else without it, else best effort."""
        convex = sector_is_convex(sector)
        if all(h >= 0.0 for *_, h, _n in cons.people) and cons.fence_feasible((0.0, 0.0, 0.0)):
            # zero satisfies every set, so the intersection is not empty (not so when the fence demands a return:
            # a vehicle within the fence margin or outside it must move back, #12 item 6)
            ok_with_sector, ok_without = True, True
        else:
            cands = [*cons.fence_candidates(v), *cons.candidates()]
            ok_without = any(cons.feasible(c, False) for c in cands)
            ok_with_sector = ok_without and any(cons.feasible(c, True) for c in cands)
        if ok_with_sector and convex:
            x = cons.project(v, use_sector=True)
            if x is not None:
                return x, True
        if ok_without:
            x = cons.project(v, use_sector=False)
            if x is not None:
                xs = sector_project(x, sector, self.unobserved_mps)
                if xs != x and cons.feasible(xs, False):
                    return xs, True
                return x, True
        return cons.best_effort(v, []), False


_PEOPLE_LIMITS = frozenset({L.STANDOFF, L.CLOSING_SPEED})
_FENCE_LIMITS = frozenset({L.FENCE, L.ALTITUDE_FLOOR, L.ALTITUDE_CEILING, L.TETHER})
#: An evasion slower than this (m/s) is numerical noise of the projection: the hold stays an exact hold.
_EVADE_MIN_MPS = 1e-3

__all__ = ["HIGHER_IS_STRICTER", "SAFETY_FALLBACKS", "GovernorInput", "GovernorOutput", "SafetyGovernor",
           "governor_bounds"]
