"""The one bridge set-up: the autopilot's setpoint timeout is read back and must fit the governor's budget."""

from __future__ import annotations

from typing import Any

import pytest

from drone_perception.config import StackConfig
from drone_perception.config.safety import FenceConfig
from firmware_bridge import loop_link
from firmware_bridge.errors import BridgeError, LinkTimeout
from firmware_bridge.loop_link import prepare_autopilot


@pytest.fixture(autouse=True)
def _params_from_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(link: Any, name: str, *, timeout_s: float, now_s: float) -> float:
        if name not in _CURRENT[0].params:
            raise LinkTimeout(f"no PARAM_VALUE {name}")
        return _CURRENT[0].params[name]

    monkeypatch.setattr(loop_link, "read_param", read)


_CURRENT: list[Any] = []


def _bridge(keeps_s: float, params: dict[str, float] | None = None) -> Any:
    b = FakeBridge(keeps_s, params)
    _CURRENT[:] = [b]
    return b


class FakeBridge:
    """Records the set-up calls; the autopilot answers the timeout write with ``keeps_s`` and brakes with
    ``params`` (ArduCopter units)."""

    def __init__(self, keeps_s: float, params: dict[str, float] | None = None) -> None:
        self.keeps_s = keeps_s
        self.calls: list[tuple[str, Any]] = []
        self.dialect = type("D", (), {"command_timeout_param": "GUID_TIMEOUT", "name": "ardupilot"})()
        self.params = {"WPNAV_ACCEL": 250.0, "PSC_JERK_XY": 5.0, **(params or {})}
        self.link = type("L", (), {"now": staticmethod(lambda: 0.0)})()

    def configure_command_timeout(self, value_s: float, *, timeout_s: float) -> float:
        self.calls.append(("timeout", value_s))
        return self.keeps_s

    def upload_fence(self, fence: FenceConfig, *, timeout_s: float, altitude_floor: bool = True) -> list[Any]:
        self.calls.append(("fence", altitude_floor))
        return []


@pytest.mark.parametrize(("keeps_s", "ok"), [(1.0, True), (0.5, True), (1.0004, True), (1.5, False),
                                             (float("nan"), False)])
def test_a_timeout_longer_than_the_budget_is_refused_before_the_fence(keeps_s: float, ok: bool) -> None:
    cfg = StackConfig()  # guided_timeout_s 1.0, autopilot_command_timeout_s 1.0
    bridge = _bridge(keeps_s)
    if ok:
        prepare_autopilot(bridge, cfg, timeout_s=1.0, fence=cfg.fence)  # type: ignore[arg-type]
        assert bridge.calls == [("timeout", 1.0), ("fence", True)]
    else:
        with pytest.raises(BridgeError, match="autopilot_command_timeout_s"):
            prepare_autopilot(bridge, cfg, timeout_s=1.0, fence=cfg.fence)  # type: ignore[arg-type]
        assert bridge.calls == [("timeout", 1.0)]  # never commanded, fence not touched


def test_no_fence_and_no_timeout_write_when_asked() -> None:
    bridge = _bridge(9.0)
    prepare_autopilot(bridge, StackConfig(), timeout_s=1.0, fence=None, write_command_timeout=False)  # type: ignore[arg-type]
    assert bridge.calls == []


@pytest.mark.parametrize(("params", "field"), [
    ({"WPNAV_ACCEL": 150.0}, "braking_decel_mps2"),  # 1.5 m/s^2 brakes softer than the 2.5 budgeted
    ({"PSC_JERK_XY": 2.0}, "braking_jerk_mps3"),
])
def test_an_autopilot_that_brakes_softer_than_budgeted_is_refused(params: dict[str, float], field: str) -> None:
    bridge = _bridge(1.0, params)
    with pytest.raises(BridgeError, match=f"safety.{field}"):
        prepare_autopilot(bridge, StackConfig(), timeout_s=1.0, fence=None)


def test_braking_as_budgeted_or_harder_passes() -> None:
    bridge = _bridge(1.0, {"WPNAV_ACCEL": 400.0, "PSC_JERK_XY": 5.0})
    got = loop_link.check_braking(bridge, StackConfig(), timeout_s=1.0)
    assert got == {"WPNAV_ACCEL": 4.0, "PSC_JERK_XY": 5.0}


def test_an_autopilot_that_does_not_say_how_it_brakes_is_refused() -> None:
    bridge = _bridge(1.0)
    del bridge.params["PSC_JERK_XY"]
    with pytest.raises(BridgeError, match="cannot read PSC_JERK_XY"):
        prepare_autopilot(bridge, StackConfig(), timeout_s=1.0, fence=None)
