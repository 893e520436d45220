"""Operator engagement: each dead-man / mode / disarm / link case ends follow at once, with a hold."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fb_peers import ARDU_LOITER, engaged_rig, link_config, pump, safe_command, setpoints

from drone_perception.errors import ConfigError
from firmware_bridge.engagement import DeadmanConfig, Engagement

GUIDED = "GUIDED"


def _ready(cfg: DeadmanConfig, now: float = 10.0) -> Engagement:
    e = Engagement(cfg, GUIDED)
    e.on_vehicle(True, GUIDED, True)
    e.on_gcs_heartbeat(now)
    e.on_rc_channels([2000] * 18, now)
    return e


BOTH = DeadmanConfig(rc_channel=7, rc_threshold_us=1700, gcs_heartbeat=True)

# (case, change applied after engaging at t=10, time of the check, expected reason fragment or None)
CASES: list[tuple[str, Any, float, str | None]] = [
    ("nothing changes", lambda e: None, 10.1, None),
    ("disarm", lambda e: e.on_vehicle(False, GUIDED, True), 10.1, "disarmed"),
    ("pilot selects LOITER", lambda e: e.on_vehicle(True, "LOITER", True), 10.1, "mode is LOITER"),
    ("autopilot failsafe to RTL", lambda e: e.on_vehicle(True, "RTL", True), 10.1, "mode is RTL"),
    ("link lost", lambda e: e.on_vehicle(True, GUIDED, False), 10.1, "link lost"),
    ("RC switch released", lambda e: e.on_rc_channels([1100] * 18, 10.05), 10.1, "released"),
    ("RC channel unused (65535)", lambda e: e.on_rc_channels([65535] * 18, 10.05), 10.1, "released"),
    ("RC_CHANNELS stop", lambda e: None, 10.6, "no RC_CHANNELS"),
    ("GCS heartbeat stops", lambda e: e.on_rc_channels([2000] * 18, 11.5), 11.6, "ground-station"),
]


@pytest.mark.parametrize(("case", "change", "check_s", "reason"), CASES, ids=[c[0] for c in CASES])
def test_engagement_table(case, change, check_s, reason) -> None:
    e = _ready(BOTH)
    ok, why = e.request_engage(10.0)
    assert ok, why
    change(e)
    got = e.update(check_s)
    if reason is None:
        assert got is None and e.following
    else:
        assert got is not None and reason in got
        assert not e.following
        assert not e.operator_input(check_s).engaged


@pytest.mark.parametrize(("armed", "mode", "link", "reason"), [
    (False, GUIDED, True, "disarmed"),
    (True, "LOITER", True, "mode is LOITER"),
    (True, GUIDED, False, "link lost"),
])
def test_cannot_engage_unless_operator_set_it_up(armed, mode, link, reason) -> None:
    e = _ready(BOTH)
    e.on_vehicle(armed, mode, link)
    ok, why = e.request_engage(10.0)
    assert not ok and reason in why


def test_disengage_is_latched() -> None:
    e = _ready(BOTH)
    assert e.request_engage(10.0)[0]
    e.on_rc_channels([1000] * 18, 10.05)
    assert e.update(10.06) is not None
    e.on_rc_channels([2000] * 18, 10.1)  # switch back: conditions fine again...
    assert e.update(10.11) is None and not e.following  # ...but the operator must engage again
    assert e.request_engage(10.12)[0]


def test_no_deadman_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dead-man"):
        DeadmanConfig(rc_channel=None, gcs_heartbeat=False)


def _trigger_disarm(ap: Any) -> None:
    ap.armed = False


def _trigger_mode(ap: Any) -> None:
    ap.custom_mode = ARDU_LOITER


def _trigger_rc_release(ap: Any) -> None:
    ap.rc_channels_us = [1500] * 6 + [1000] + [1500] * 11


WIRE_CASES = [("disarm", _trigger_disarm, "disarmed"), ("pilot mode change", _trigger_mode, "mode is LOITER"),
              ("dead-man switch released", _trigger_rc_release, "released")]


@pytest.mark.parametrize(("case", "trigger", "reason"), WIRE_CASES, ids=[c[0] for c in WIRE_CASES])
def test_disengage_over_the_wire_sends_hold(rig, gcs_factory, recorder, case, trigger, reason) -> None:
    cfg = link_config(deadman_rc_channel=7, deadman_gcs_heartbeat=True)
    bridge, ap, gcs = engaged_rig(rig, gcs_factory, config=cfg,
                                  peer={"heartbeat_hz": 20.0, "rc_channels_us": [1500] * 6 + [2000] + [1500] * 11})
    now = time.monotonic()
    assert bridge.send(safe_command(now, (2.0, 0.0, 0.0)), now)
    trigger(ap)
    t0 = time.monotonic()
    while bridge.engagement.following and time.monotonic() - t0 < 1.0:
        bridge.poll(time.monotonic(), timeout_s=0.005)
    detect_s = time.monotonic() - t0
    assert not bridge.engagement.following
    assert reason in (bridge.engagement.last_disengage_reason or "")
    pump(bridge, 0.1, gcs)
    assert setpoints(ap)[-1] == (0.0, 0.0, 0.0, 0.0)  # the immediate hold
    now = time.monotonic()
    assert not bridge.send(safe_command(now, (2.0, 0.0, 0.0)), now)  # moving refused while disengaged
    events = [e for e in recorder.topic("/autopilot/events") if e["kind"] == "disengage"]
    assert events and reason in events[-1]["reason"]
    print(f"{case}: disengaged {detect_s * 1000:.0f} ms after the change")


def test_gcs_heartbeat_loss_disengages(rig, gcs_factory) -> None:
    bridge, ap, _gcs = engaged_rig(rig, gcs_factory)
    t0 = time.monotonic()
    pump(bridge, 1.8)  # no more GCS heartbeats
    assert not bridge.engagement.following
    assert "ground-station" in (bridge.engagement.last_disengage_reason or "")
    assert time.monotonic() - t0 < 2.5
    assert setpoints(ap)[-1] == (0.0, 0.0, 0.0, 0.0)
