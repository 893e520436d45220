"""The one bridge set-up: the autopilot's setpoint timeout is read back and must fit the governor's budget."""

from __future__ import annotations

from typing import Any

import pytest

from drone_perception.config import StackConfig
from drone_perception.config.safety import FenceConfig
from firmware_bridge.errors import BridgeError
from firmware_bridge.loop_link import prepare_autopilot


class FakeBridge:
    """Records the set-up calls; the autopilot answers the timeout write with ``keeps_s``."""

    def __init__(self, keeps_s: float) -> None:
        self.keeps_s = keeps_s
        self.calls: list[tuple[str, Any]] = []
        self.dialect = type("D", (), {"command_timeout_param": "GUID_TIMEOUT"})()

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
    bridge = FakeBridge(keeps_s)
    if ok:
        prepare_autopilot(bridge, cfg, timeout_s=1.0, fence=cfg.fence)  # type: ignore[arg-type]
        assert bridge.calls == [("timeout", 1.0), ("fence", True)]
    else:
        with pytest.raises(BridgeError, match="autopilot_command_timeout_s"):
            prepare_autopilot(bridge, cfg, timeout_s=1.0, fence=cfg.fence)  # type: ignore[arg-type]
        assert bridge.calls == [("timeout", 1.0)]  # never commanded, fence not touched


def test_no_fence_and_no_timeout_write_when_asked() -> None:
    bridge = FakeBridge(9.0)
    prepare_autopilot(bridge, StackConfig(), timeout_s=1.0, fence=None, write_command_timeout=False)  # type: ignore[arg-type]
    assert bridge.calls == []
