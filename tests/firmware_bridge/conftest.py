"""Fixtures for the firmware_bridge tests; the peers themselves live in ``fb_peers.py``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make fb_peers importable

from fb_peers import FakeAutopilot, FakeGcs, ListRecorder, link_config

from drone_perception.config.link import LinkConfig
from firmware_bridge.bridge import MavlinkBridge


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
def rig(recorder: ListRecorder) -> Iterator[Callable[..., tuple[MavlinkBridge, FakeAutopilot]]]:
    """Factory: ``rig(px4=False, config=None, peer_kwargs..., bridge_kwargs...)`` -> (bridge, autopilot)."""
    opened: list[Any] = []

    def make(*, config: LinkConfig | None = None, connect: bool = True, handler: Any = None,
             peer: dict[str, Any] | None = None, connect_timeout_s: float = 3.0,
             **bridge_kwargs: Any) -> tuple[MavlinkBridge, FakeAutopilot]:
        cfg = config or link_config()
        bridge = MavlinkBridge.open(cfg, recorder=recorder, tracking_handler=handler, **bridge_kwargs)
        opened.append(bridge)
        addr = bridge.link.local_address
        assert addr is not None
        ap = FakeAutopilot(addr[1], px4=cfg.autopilot == "px4", **(peer or {})).start()
        opened.append(ap)
        if connect:
            bridge.connect(timeout_s=connect_timeout_s)
        return bridge, ap

    yield make
    for obj in reversed(opened):
        if isinstance(obj, FakeAutopilot):
            obj.stop()
        else:
            obj.close()


@pytest.fixture
def gcs_factory() -> Iterator[Callable[[MavlinkBridge], FakeGcs]]:
    """Factory: a FakeGcs talking to a bridge's udpin port."""
    made: list[FakeGcs] = []

    def make(bridge: MavlinkBridge, signing_key: bytes | None = None) -> FakeGcs:
        addr = bridge.link.local_address
        assert addr is not None
        g = FakeGcs(addr[1], signing_key=signing_key)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()
