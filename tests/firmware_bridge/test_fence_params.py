"""Second safety layer on the autopilot: command-timeout parameter and geofence, written and read back."""

from __future__ import annotations

import math

import pytest
from fb_peers import link_config
from hypothesis import given
from hypothesis import strategies as st

from drone_perception.config.safety import FenceConfig
from firmware_bridge.errors import BridgeError, CommandRejected, LinkTimeout
from firmware_bridge.fence import ARDUPILOT_FENCE_TYPE, CIRCLE, VERTEX, fence_items, ne_to_latlon

HOME = (47.397742, 8.545594)


@pytest.mark.parametrize(("autopilot", "param"), [("ardupilot", "GUID_TIMEOUT"), ("px4", "COM_OF_LOSS_T")])
def test_command_timeout_written_and_read_back(rig, autopilot, param) -> None:
    bridge, ap = rig(config=link_config(autopilot=autopilot))
    got = bridge.configure_command_timeout(0.5, timeout_s=2.0)
    assert got == pytest.approx(0.5)
    assert ap.params[param] == pytest.approx(0.5)
    assert ap.of_type("PARAM_REQUEST_READ")  # an explicit read-back, not just the echo


def test_command_timeout_readback_mismatch_is_rejected(rig) -> None:
    bridge, ap = rig()
    ap.param_override["GUID_TIMEOUT"] = 3.0  # autopilot clamps / ignores the write
    with pytest.raises(CommandRejected, match="reads back 3"):
        bridge.configure_command_timeout(0.5, timeout_s=2.0)


def test_command_timeout_unanswered_is_link_timeout(rig) -> None:
    bridge, ap = rig()
    ap.answer_params = False
    with pytest.raises(LinkTimeout, match="GUID_TIMEOUT"):
        bridge.configure_command_timeout(0.5, timeout_s=0.3)


@pytest.mark.parametrize("value", [0.0, 10.0, math.nan])
def test_command_timeout_value_range(rig, value) -> None:
    bridge, _ap = rig()
    with pytest.raises(BridgeError, match="value_s"):
        bridge.configure_command_timeout(value, timeout_s=1.0)


def test_fence_items_geometry() -> None:
    fence = FenceConfig(polygon_ne_m=((-100.0, -50.0), (-100.0, 50.0), (100.0, 50.0), (100.0, -50.0)),
                        tethered=True, tether_length_m=30.0)
    items = fence_items(fence, *HOME)
    assert [i.command for i in items] == [VERTEX] * 4 + [CIRCLE]
    assert all(i.param1 == 4.0 for i in items[:4]) and items[4].param1 == 30.0
    # 200 m of latitude between the south and north vertices
    dlat_m = (items[2].lat_e7 - items[0].lat_e7) * 1e-7 * math.pi / 180 * 6378137.0
    assert dlat_m == pytest.approx(200.0, abs=0.05)


@given(st.floats(-2000, 2000), st.floats(-2000, 2000), st.floats(-70, 70))
def test_ne_to_latlon_preserves_distance(north, east, lat0) -> None:
    lat, lon = ne_to_latlon(north, east, lat0, 10.0)
    r = 6378137.0
    dn = math.radians(lat - lat0) * r
    de = math.radians(lon - 10.0) * r * math.cos(math.radians(lat0))
    assert dn == pytest.approx(north, abs=1e-6) and de == pytest.approx(east, abs=1e-6)


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_fence_upload_and_readback(rig, recorder, autopilot) -> None:
    bridge, ap = rig(config=link_config(autopilot=autopilot))
    fence = FenceConfig()
    items = bridge.upload_fence(fence, timeout_s=3.0)
    assert len(ap.fence) == len(items) == 4
    assert [(m.command, m.x, m.y) for m in ap.fence] == [(i.command, i.lat_e7, i.lon_e7) for i in items]
    assert all(m.mission_type == 1 for m in ap.fence)
    if autopilot == "ardupilot":
        assert ap.params["FENCE_ENABLE"] == 1.0 and ap.params["FENCE_TYPE"] == ARDUPILOT_FENCE_TYPE
        assert ap.params["FENCE_ALT_MAX"] == pytest.approx(fence.altitude_ceiling_m)
        assert ap.params["FENCE_ALT_MIN"] == pytest.approx(fence.altitude_floor_m)
    else:
        assert ap.params["GF_MAX_VER_DIST"] == pytest.approx(fence.altitude_ceiling_m)
    assert ap.of_type("MISSION_REQUEST_LIST")  # downloaded again
    assert next(e for e in recorder.topic("/autopilot/events") if e["kind"] == "fence_upload")["verified"]


def test_fence_readback_mismatch_is_rejected(rig) -> None:
    bridge, ap = rig()
    ap.corrupt_fence_readback = True
    with pytest.raises(CommandRejected, match="item 1"):
        bridge.upload_fence(FenceConfig(), timeout_s=3.0)


def test_fence_upload_unanswered_is_link_timeout(rig) -> None:
    bridge, ap = rig()
    ap.answer_mission = False
    with pytest.raises(LinkTimeout):
        bridge.upload_fence(FenceConfig(), timeout_s=0.8)


def test_fence_items_are_placed_relative_to_home_in_the_local_frame() -> None:
    """The fence is in the local (EKF-origin) frame; home is rarely at that origin. A vertex at home's local
    position must land exactly on home's lat/lon, and the others at their offsets from home."""
    home_ne = (-15.0, 7.5)
    fence = FenceConfig(polygon_ne_m=((-15.0, 7.5), (-15.0, 60.0), (45.0, 60.0), (45.0, 7.5)))
    items = fence_items(fence, *HOME, home_ne_m=home_ne)
    assert (items[0].lat_e7, items[0].lon_e7) == (round(HOME[0] * 1e7), round(HOME[1] * 1e7))
    lat, lon = ne_to_latlon(45.0 - home_ne[0], 60.0 - home_ne[1], *HOME)
    assert (items[2].lat_e7, items[2].lon_e7) == (round(lat * 1e7), round(lon * 1e7))
    with pytest.raises(BridgeError, match="home local position"):
        fence_items(fence, *HOME, home_ne_m=(math.nan, 0.0))
