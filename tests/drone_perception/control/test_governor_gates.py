"""Table-driven gate tests, the mode request, exceptions, and reachability of every limit name."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control import limits as L
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.types import ModeRequest, OperatorInput, TargetEstimate, VelocityCommand, Verdict

NOW = 100.0


def _op(**kw: Any) -> OperatorInput:
    base = {"engaged": True, "deadman_ok": True, "subject_track_id": 1, "stamp_s": NOW}
    base.update(kw)
    return OperatorInput(**base)


# (id, kwargs for build(), replacement fields of the GovernorInput, expected limit, expected engaged)
GATES: list[tuple[str, dict[str, Any], dict[str, Any], str, bool]] = [
    ("not_engaged", {}, {"operator": _op(engaged=False)}, L.NOT_ENGAGED, False),
    ("deadman", {}, {"operator": _op(deadman_ok=False)}, L.DEADMAN, False),
    ("not_armed", {"armed": False}, {}, L.NOT_ARMED, False),
    ("wrong_mode", {"mode": "LOITER"}, {}, L.WRONG_MODE, False),
    ("link_lost", {"link_ok": False}, {}, L.LINK_LOST, True),
    ("stale_vehicle", {"stamp_s": NOW - 0.6}, {}, L.STALE_VEHICLE, True),
    ("future_vehicle", {"stamp_s": NOW + 0.6}, {}, L.STALE_VEHICLE, True),
    ("stale_perception", {}, {"perception_stamp_s": NOW - 0.6}, L.STALE_PERCEPTION, True),
    ("nan_vehicle_position", {"position": (math.nan, 0, -10)}, {}, L.NAN_INPUT, True),
    ("inf_vehicle_velocity", {"velocity": (0, math.inf, 0)}, {}, L.NAN_INPUT, True),
    ("nan_command", {"command": (math.nan, 0, 0)}, {}, L.NAN_INPUT, True),
    ("nan_yaw_rate", {"yaw_rate": math.nan}, {}, L.NAN_INPUT, True),
    ("nan_person", {"people": ((60, 0, 0), (math.nan, 1, 0))}, {}, L.NAN_INPUT, True),
    ("nan_person_velocity", {"people": ((60, 0, 0), (30, 0, 0)), "people_velocity": ((0, 0, 0), (0, math.nan, 0))},
     {}, L.NAN_INPUT, True),
    ("nan_uncertainty", {"uncertainty": (math.nan,)}, {}, L.NAN_INPUT, True),
    ("nan_now", {}, {"now_s": math.nan}, L.NAN_INPUT, True),
    ("nan_sector", {"sector": (math.nan, 1.0)}, {}, L.NAN_INPUT, True),
    ("no_command", {"command": None}, {}, L.NO_COMMAND, True),
    ("stale_command", {}, {"proposed": VelocityCommand(np.ones(3), 0.0, NOW - 0.6)}, L.NO_COMMAND, True),
    ("subject_invalid", {"subject_valid": False}, {}, L.SUBJECT_LOST, True),
    ("subject_old", {}, {"subject": TargetEstimate(1, np.array([60.0, 0, 0]), np.zeros(3), np.eye(3), NOW - 3.0,
                                                   True)}, L.SUBJECT_LOST, True),
]


@pytest.mark.parametrize(("kw", "replace", "limit", "engaged"), [g[1:] for g in GATES], ids=[g[0] for g in GATES])
def test_gate_holds_with_its_limit(build: Callable[..., GovernorInput], kw: dict[str, Any],
                                   replace: dict[str, Any], limit: str, engaged: bool) -> None:
    gov = SafetyGovernor(SafetyConfig(), FenceConfig())
    inp = dataclasses.replace(build(**kw), **replace)
    out = gov.step(inp)
    assert out.safe.verdict is Verdict.HOLD
    assert limit in out.safe.limits_applied
    assert out.safe.limits_applied <= L.GATES
    assert out.engaged is engaged
    assert out.safe.command.velocity_ned_mps.tolist() == [0.0, 0.0, 0.0]
    assert out.safe.command.yaw_rate_radps == 0.0
    assert math.isfinite(out.safe.expires_at_s) and out.safe.expires_at_s > out.safe.command.stamp_s


def test_healthy_input_passes_unchanged(build: Callable[..., GovernorInput]) -> None:
    gov = SafetyGovernor(SafetyConfig(), FenceConfig())
    # above the ground-safe height (12.05 m at the default standoff; below it the sight limit binds)
    out = gov.step(build(position=(0.0, 0.0, -13.0), velocity=(1.0, 0, 0)))
    assert out.safe.verdict is Verdict.PASS and out.safe.limits_applied == frozenset()
    assert out.engaged and out.feasible
    assert out.safe.expires_at_s == pytest.approx(NOW + SafetyConfig().command_ttl_s)
    # 60 m north, 13 m up, body top at 2 m: distance to the segment
    assert out.min_separation_m == pytest.approx(math.hypot(60.0, 11.0))


def test_persistent_engaged_hold_requests_brake(build: Callable[..., GovernorInput]) -> None:
    cfg = SafetyConfig(hold_to_mode_request_s=1.0)
    gov = SafetyGovernor(cfg, FenceConfig())
    requests = []
    for i in range(31):
        now = NOW + 0.05 * i
        out = gov.step(build(now=now, link_ok=False))
        requests.append((now - NOW, out.safe.mode_request))
    assert all(r is None for t, r in requests if t < 1.0 - 1e-9)
    assert all(r is ModeRequest.BRAKE for t, r in requests if t >= 1.0 + 1e-9)
    # a healthy step clears the timer
    assert gov.step(build(now=NOW + 2.0, velocity=(1.0, 0, 0))).safe.mode_request is None
    assert gov.step(build(now=NOW + 2.05, link_ok=False)).safe.mode_request is None


def test_disengaged_hold_never_requests_a_mode(build: Callable[..., GovernorInput]) -> None:
    gov = SafetyGovernor(SafetyConfig(hold_to_mode_request_s=0.5), FenceConfig())
    for i in range(40):
        out = gov.step(build(now=NOW + 0.05 * i, armed=False))
        assert out.safe.mode_request is None and not out.engaged


def test_exception_inside_step_becomes_internal_error_hold(build: Callable[..., GovernorInput],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    gov = SafetyGovernor(SafetyConfig(), FenceConfig())

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("injected")

    monkeypatch.setattr(gov, "_people_constraints", boom)
    out = gov.step(build())
    assert out.safe.verdict is Verdict.HOLD and out.safe.limits_applied == {L.INTERNAL_ERROR}
    assert out.safe.command.velocity_ned_mps.tolist() == [0.0, 0.0, 0.0] and out.engaged


def test_garbage_input_becomes_internal_error_hold(build: Callable[..., GovernorInput]) -> None:
    gov = SafetyGovernor(SafetyConfig(), FenceConfig())
    out = gov.step(dataclasses.replace(build(), operator=None))  # type: ignore[arg-type]
    assert out.safe.verdict is Verdict.HOLD and L.INTERNAL_ERROR in out.safe.limits_applied


# -- reachability: every limit name is produced by some input ----------------------------------------
WIDE_SECTOR = (0.0, 3.2)
REACH: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # limit, build() kwargs, SafetyConfig kwargs, FenceConfig kwargs
    (L.SPEED_CAP, {"command": (9.0, 0, 0), "velocity": (5.0, 0, 0)}, {}, {}),
    (L.VERTICAL_SPEED_CAP, {"command": (0, 0, -3.0), "velocity": (0, 0, -2.0)}, {}, {}),
    (L.ACCEL_CAP, {"command": (3.0, 0, 0)}, {}, {}),
    (L.YAW_RATE_CAP, {"yaw_rate": 1.4, "command": (0.0, 0, 0)}, {}, {}),
    (L.STANDOFF, {"people": ((4.0, 0, 0),), "command": (0.1, 0, 0)}, {}, {}),
    (L.CLOSING_SPEED, {"people": ((15.0, 0, 0),), "command": (4.0, 0, 0), "velocity": (4.0, 0, 0),
                       "position": (0, 0, -13.0)}, {}, {}),
    (L.SIGHT_RANGE, {"command": (1.0, 0, 0), "velocity": (1.0, 0, 0), "position": (0, 0, -10.0)}, {}, {}),
    (L.UNOBSERVED_DIRECTION, {"command": (0.0, 2.0, 0), "velocity": (0, 2.0, 0), "sector": (math.pi, 0.5)},
     {}, {}),
    (L.FENCE, {"position": (148.0, 0, -13), "command": (1.0, 0, 0), "velocity": (1.0, 0, 0)}, {}, {}),
    (L.ALTITUDE_FLOOR, {"position": (0, 0, -3.5), "command": (0, 0, 1.0), "velocity": (0, 0, 1.0)}, {}, {}),
    (L.ALTITUDE_CEILING, {"position": (0, 0, -39.5), "command": (0, 0, -1.0), "velocity": (0, 0, -1.0)}, {}, {}),
    (L.TETHER, {"position": (24.0, 0, -15), "command": (1.0, 0, 0), "velocity": (1.0, 0, 0)}, {},
     {"tethered": True, "tether_length_m": 30.0}),
]


@pytest.mark.parametrize(("limit", "kw", "scfg", "fcfg"), REACH, ids=[r[0] for r in REACH])
def test_limit_is_reachable(build: Callable[..., GovernorInput], limit: str, kw: dict[str, Any],
                            scfg: dict[str, Any], fcfg: dict[str, Any]) -> None:
    gov = SafetyGovernor(SafetyConfig(**scfg), FenceConfig(**fcfg))
    out = gov.step(build(**{"people": ((-100.0, 0, 0),), **kw}))
    assert limit in out.safe.limits_applied, out.safe.limits_applied
    assert out.safe.verdict is Verdict.LIMITED


def test_every_limit_name_is_covered_by_a_reachability_case() -> None:
    # INTERNAL_ERROR and POSITION_JUMP (two steps) are reached in test_governor_exceptions / test_position_check.
    covered = {g[3] for g in GATES} | {r[0] for r in REACH} | {L.INTERNAL_ERROR, L.POSITION_JUMP}
    assert covered == L.ALL
