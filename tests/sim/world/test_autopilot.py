"""GUIDED velocity-setpoint semantics: the last setpoint is flown exactly guided_timeout_s, then zero."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.errors import InvalidValueError
from sim.world.autopilot import GuidedAutopilot


@pytest.mark.parametrize("timeout_s", [0.3, 1.0, 2.5])
def test_keeps_last_setpoint_exactly_timeout_then_zero(timeout_s):
    ap = GuidedAutopilot(guided_timeout_s=timeout_s)
    ap.receive([2.0, -1.0, 0.5], 0.3, now_s=10.0)
    for now in np.linspace(10.0, 10.0 + timeout_s, 50, endpoint=False):
        vel, yaw_rate = ap.setpoint(float(now))
        assert vel.tolist() == [2.0, -1.0, 0.5] and yaw_rate == 0.3
    for now in (10.0 + timeout_s, 10.0 + timeout_s + 1e-6, 100.0):
        vel, yaw_rate = ap.setpoint(now)
        assert vel.tolist() == [0.0, 0.0, 0.0] and yaw_rate == 0.0


def test_new_setpoint_restarts_the_timeout():
    ap = GuidedAutopilot(guided_timeout_s=1.0)
    ap.receive([1.0, 0, 0], 0.0, now_s=0.0)
    ap.receive([0, 3.0, 0], 0.0, now_s=0.9)
    assert ap.setpoint(1.5)[0].tolist() == [0.0, 3.0, 0.0]
    assert ap.setpoint(1.95)[0].tolist() == [0.0, 0.0, 0.0]


def test_nothing_received_means_hover():
    vel, yaw_rate = GuidedAutopilot().setpoint(5.0)
    assert vel.tolist() == [0.0, 0.0, 0.0] and yaw_rate == 0.0


def test_brake_ramp_after_timeout():
    ap = GuidedAutopilot(guided_timeout_s=1.0, brake_decel_mps2=2.0)
    ap.receive([4.0, 0, 0], 0.0, now_s=0.0)
    assert ap.setpoint(1.5)[0][0] == pytest.approx(3.0)
    assert ap.setpoint(3.0)[0][0] == pytest.approx(0.0)
    assert ap.setpoint(10.0)[0][0] == 0.0


@pytest.mark.parametrize(("mode", "armed"), [("BRAKE", True), ("LOITER", True), ("RTL", True), ("GUIDED", False)])
def test_setpoints_ignored_outside_guided_or_disarmed(mode, armed):
    ap = GuidedAutopilot()
    ap.set_mode(mode)
    ap.armed = armed
    ap.receive([1.0, 1.0, 0], 0.2, now_s=0.0)
    assert ap.setpoint(0.1)[0].tolist() == [0.0, 0.0, 0.0]


def test_starts_armed_in_guided():
    ap = GuidedAutopilot()
    assert ap.armed and ap.mode == "GUIDED"


@pytest.mark.parametrize("bad", [[np.nan, 0, 0], [0, 0], [0, np.inf, 0]])
def test_rejects_non_finite_setpoints(bad):
    with pytest.raises(InvalidValueError, match="setpoint"):
        GuidedAutopilot().receive(bad, 0.0, now_s=0.0)


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan")])
def test_rejects_bad_timeout(timeout):
    with pytest.raises(InvalidValueError, match="guided_timeout_s"):
        GuidedAutopilot(guided_timeout_s=timeout)
