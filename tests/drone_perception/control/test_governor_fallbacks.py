"""The governor's run-time re-check of SafetyConfig uses the config's own bounds (one source, no drift).

A config built with ``model_construct`` skips validation, so the governor checks every value it uses
again: a legal value is used exactly as given, a value above the maximum of a field where higher is stricter
(standoff, budgets) is used as given, a value past any other inclusive bound is clamped to that bound, and a
value that is not a finite number, or lies at or past an exclusive bound (a speed cap <= 0), becomes the
governor's fail-closed fallback.
"""

from __future__ import annotations

import math
from typing import Any

import annotated_types as at
import pytest

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.config import limits as H
from drone_perception.control import governor as G
from drone_perception.control.governor import SafetyGovernor

#: SafetyConfig field -> the governor attribute that holds the value it uses. Written out here (not
#: taken from the governor) so that a field the governor stops checking fails the test.
ATTRIBUTE = {
    "min_standoff_m": "standoff_m",
    "max_horizontal_speed_mps": "vh_mps",
    "max_vertical_speed_mps": "vv_mps",
    "max_accel_mps2": "accel_mps2",
    "braking_decel_mps2": "decel_mps2",
    "braking_jerk_mps3": "jerk_mps3",
    "max_yaw_rate_radps": "yaw_rate_radps",
    "command_ttl_s": "ttl_s",
    "stale_input_s": "stale_s",
    "subject_lost_timeout_s": "subject_timeout_s",
    "hold_to_mode_request_s": "hold_to_mode_s",
    "unobserved_speed_mps": "unobserved_mps",
    "design_person_speed_mps": "growth_mps",
    "command_latency_s": "latency_s",
    "autopilot_command_timeout_s": "autopilot_timeout_s",
}
#: Which way is fail-closed for each field: -1 = a lower value is stricter, +1 = a higher one is.
STRICTER = {
    "min_standoff_m": +1, "max_horizontal_speed_mps": -1, "max_vertical_speed_mps": -1, "max_accel_mps2": -1,
    "braking_decel_mps2": -1, "braking_jerk_mps3": -1, "max_yaw_rate_radps": -1, "command_ttl_s": -1,
    "stale_input_s": -1,
    "subject_lost_timeout_s": -1, "hold_to_mode_request_s": -1, "unobserved_speed_mps": -1,
    "design_person_speed_mps": +1, "command_latency_s": +1, "autopilot_command_timeout_s": +1,
}


def _pydantic_bounds(name: str) -> tuple[float, bool, float, bool]:
    """(lo, lo_inclusive, hi, hi_inclusive) read straight from the pydantic Field metadata."""
    lo = hi = None
    lo_inc = hi_inc = True
    for m in SafetyConfig.model_fields[name].metadata:
        if isinstance(m, at.Ge):
            lo, lo_inc = float(m.ge), True  # type: ignore[arg-type]
        elif isinstance(m, at.Gt):
            lo, lo_inc = float(m.gt), False  # type: ignore[arg-type]
        elif isinstance(m, at.Le):
            hi, hi_inc = float(m.le), True  # type: ignore[arg-type]
        elif isinstance(m, at.Lt):
            hi, hi_inc = float(m.lt), False  # type: ignore[arg-type]
    assert lo is not None and hi is not None, f"{name}: config field has no two-sided range"
    return lo, lo_inc, hi, hi_inc


def _governor(**overrides: Any) -> SafetyGovernor:
    """A governor of the default config with ``overrides`` set without validation (as model_construct does)."""
    return SafetyGovernor(SafetyConfig.model_construct(**{**SafetyConfig().model_dump(), **overrides}),
                          FenceConfig())


def test_the_governor_checks_exactly_these_fields() -> None:
    assert set(G.SAFETY_FALLBACKS) == set(ATTRIBUTE)
    assert set(ATTRIBUTE) <= set(SafetyConfig.model_fields)


@pytest.mark.parametrize("name", sorted(ATTRIBUTE))
def test_governor_bounds_equal_the_config_bounds(name: str) -> None:
    b = G.governor_bounds(name)
    assert (b.lo, b.lo_inclusive, b.hi, b.hi_inclusive) == _pydantic_bounds(name)


def _probes(name: str) -> list[tuple[float, str]]:
    """(value, expected) with expected "same", "lo", "hi" or "fallback"."""
    lo, lo_inc, hi, hi_inc = _pydantic_bounds(name)
    step = 1e-3 * (hi - lo)
    out = [((lo + hi) / 2, "same"), (lo + step, "same"), (hi - step, "same"),
           (math.nan, "fallback"), (math.inf, "fallback"), (-math.inf, "fallback")]
    if lo_inc:
        out += [(lo, "same"), (lo - step, "lo"), (lo - 1e6, "lo")]
    else:
        out += [(lo, "fallback"), (lo - step, "fallback")]
    if STRICTER[name] > 0:  # above the maximum is stricter still: used as given
        out += [(hi, "same" if hi_inc else "fallback"), (hi + step, "same"), (hi + 1e6, "same")]
    elif hi_inc:
        out += [(hi, "same"), (hi + step, "hi"), (hi + 1e6, "hi")]
    else:
        out += [(hi, "fallback"), (hi + step, "fallback")]
    return out


@pytest.mark.parametrize(("name", "value", "expected"),
                         [(n, v, e) for n in sorted(ATTRIBUTE) for v, e in _probes(n)])
def test_governor_uses_legal_values_as_given_and_clamps_to_the_config_bounds(
        name: str, value: float, expected: str) -> None:
    lo, _, hi, _ = _pydantic_bounds(name)
    want = {"same": value, "lo": lo, "hi": hi, "fallback": G.SAFETY_FALLBACKS[name]}[expected]
    gov = _governor(**{name: value})
    assert getattr(gov, ATTRIBUTE[name]) == pytest.approx(want, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("name", sorted(ATTRIBUTE))
def test_a_value_that_is_no_number_gives_the_fallback(name: str) -> None:
    gov = _governor(**{name: "lots"})
    assert getattr(gov, ATTRIBUTE[name]) == G.SAFETY_FALLBACKS[name]


@pytest.mark.parametrize("name", sorted(ATTRIBUTE))
def test_every_fallback_is_fail_closed(name: str) -> None:
    """No fallback is looser than the conservative default, and a budget fallback is its config maximum."""
    fallback, default = G.SAFETY_FALLBACKS[name], SafetyConfig.model_fields[name].default
    assert math.isfinite(fallback)
    assert (fallback - default) * STRICTER[name] >= 0.0, f"{name}: fallback {fallback} looser than {default}"
    if name in ("command_latency_s", "autopilot_command_timeout_s", "design_person_speed_mps"):
        assert fallback == _pydantic_bounds(name)[2]


@pytest.mark.parametrize(("name", "hard", "side"), [
    ("min_standoff_m", H.HARD_MIN_STANDOFF_M, "lo"),
    ("max_horizontal_speed_mps", H.HARD_MAX_HORIZONTAL_SPEED_MPS, "hi"),
    ("max_vertical_speed_mps", H.HARD_MAX_VERTICAL_SPEED_MPS, "hi"),
    ("max_accel_mps2", H.HARD_MAX_ACCEL_MPS2, "hi"),
    ("braking_decel_mps2", H.HARD_MAX_ACCEL_MPS2, "hi"),
    ("max_yaw_rate_radps", H.HARD_MAX_YAW_RATE_RADPS, "hi"),
    ("command_ttl_s", H.HARD_MAX_COMMAND_TTL_S, "hi"),
    ("unobserved_speed_mps", H.HARD_MAX_UNOBSERVED_SPEED_MPS, "hi"),
])
def test_governor_bounds_never_pass_the_hard_limits(name: str, hard: float, side: str) -> None:
    """The bounds come from the config, so a config edit must not loosen a charter limit in the governor."""
    b = G.governor_bounds(name)
    assert (b.lo >= hard) if side == "lo" else (b.hi <= hard)


def test_the_stopping_horizon_uses_the_checked_values() -> None:
    gov = _governor(command_latency_s=50.0, command_ttl_s=9.0, autopilot_command_timeout_s=math.nan)
    ttl_hi = _pydantic_bounds("command_ttl_s")[2]
    assert gov.horizon_s == pytest.approx(50.0 + ttl_hi + G.SAFETY_FALLBACKS["autopilot_command_timeout_s"]
                                          + gov.decel_mps2 / gov.jerk_mps3)


def test_the_stricter_side_is_exactly_the_governors() -> None:
    assert {n for n, d in STRICTER.items() if d > 0} == G.HIGHER_IS_STRICTER
