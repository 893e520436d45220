"""Subject selection from the ground station: camera-protocol tracking commands -> callback -> ACK."""

from __future__ import annotations

import math
import time

import pytest
from fb_peers import mav2, pump


class Handler:
    def __init__(self, ok: bool = True, reason: str = "locked", boom: bool = False) -> None:
        self.calls: list[tuple] = []
        self.ok, self.reason, self.boom = ok, reason, boom

    def _answer(self, call: tuple) -> tuple[bool, str]:
        self.calls.append(call)
        if self.boom:
            raise RuntimeError("tracker exploded")
        return self.ok, self.reason

    def on_track_point(self, u_norm: float, v_norm: float) -> tuple[bool, str]:
        return self._answer(("point", u_norm, v_norm))

    def on_track_rectangle(self, x1: float, y1: float, x2: float, y2: float) -> tuple[bool, str]:
        return self._answer(("rect", x1, y1, x2, y2))

    def on_stop_tracking(self) -> tuple[bool, str]:
        return self._answer(("stop",))


POINT, RECT, STOP = (mav2.MAV_CMD_CAMERA_TRACK_POINT, mav2.MAV_CMD_CAMERA_TRACK_RECTANGLE,
                     mav2.MAV_CMD_CAMERA_STOP_TRACKING)

# (command, params, handler ok, expected callback, expected result)
CASES = [
    (POINT, (0.5, 0.25, 0.05), True, ("point", 0.5, 0.25), mav2.MAV_RESULT_ACCEPTED),
    (RECT, (0.1, 0.2, 0.3, 0.6), True, ("rect", 0.1, 0.2, 0.3, 0.6), mav2.MAV_RESULT_ACCEPTED),
    (STOP, (), True, ("stop",), mav2.MAV_RESULT_ACCEPTED),
    (POINT, (0.5, 0.25), False, ("point", 0.5, 0.25), mav2.MAV_RESULT_DENIED),  # no person under the point
    (POINT, (1.5, 0.25), True, None, mav2.MAV_RESULT_DENIED),  # outside the image
    (POINT, (math.nan, 0.25), True, None, mav2.MAV_RESULT_DENIED),
    (RECT, (0.5, 0.5, 0.2, 0.9), True, None, mav2.MAV_RESULT_DENIED),  # inverted box
]


@pytest.mark.parametrize(("command", "params", "ok", "callback", "result"), CASES)
def test_track_command_calls_back_and_acks(rig, gcs_factory, command, params, ok, callback, result) -> None:
    handler = Handler(ok=ok, reason="no person under the box")
    bridge, _ap = rig(handler=handler)
    gcs = gcs_factory(bridge)
    gcs.heartbeat()
    pump(bridge, 0.05)
    gcs.command(command, *params)
    pump(bridge, 0.1)
    ack = gcs.recv_one("COMMAND_ACK", pred=lambda m: m.command == command)
    assert ack.get_srcComponent() == 100 and ack.result == result
    assert ack.target_system == 255 and ack.target_component == 190
    if callback is None:
        assert handler.calls == []
    else:
        assert len(handler.calls) == 1 and handler.calls[0] == pytest.approx(callback, abs=1e-6)
    if result == mav2.MAV_RESULT_DENIED:
        text = gcs.recv_one("STATUSTEXT", pred=lambda m: m.get_srcComponent() == 100)
        assert "track refused" in text.text


def test_handler_exception_is_denied_not_a_crash(rig, gcs_factory) -> None:
    bridge, _ap = rig(handler=Handler(boom=True))
    gcs = gcs_factory(bridge)
    gcs.heartbeat()
    pump(bridge, 0.05)
    gcs.command(POINT, 0.5, 0.5)
    pump(bridge, 0.1)
    assert gcs.recv_one("COMMAND_ACK").result == mav2.MAV_RESULT_DENIED
    assert bridge.vehicle_state(time.monotonic()).link_ok


def test_camera_information_has_tracking_flags(rig, gcs_factory) -> None:
    bridge, _ap = rig(handler=Handler())
    gcs = gcs_factory(bridge)
    gcs.heartbeat()
    pump(bridge, 0.05)
    hb = gcs.recv_one("HEARTBEAT", pred=lambda m: m.get_srcComponent() == 100)  # discoverable as a camera
    assert hb.type == mav2.MAV_TYPE_CAMERA
    gcs.command(mav2.MAV_CMD_REQUEST_MESSAGE, mav2.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    pump(bridge, 0.1)
    info = gcs.recv_one("CAMERA_INFORMATION")
    assert info.flags & mav2.CAMERA_CAP_FLAGS_HAS_TRACKING_POINT
    assert info.flags & mav2.CAMERA_CAP_FLAGS_HAS_TRACKING_RECTANGLE
    assert info.get_srcComponent() == 100


def test_tracking_status_messages(rig, gcs_factory) -> None:
    bridge, _ap = rig(handler=Handler())
    gcs = gcs_factory(bridge)
    gcs.heartbeat()
    pump(bridge, 0.05)
    now = time.monotonic()
    bridge.camera.publish_image_status(now, (0.2, 0.3, 0.4, 0.7))
    bridge.camera.publish_geo_status(now, lat_deg=47.4, lon_deg=8.5, alt_amsl_m=490.0, h_acc_m=1.5,
                                     velocity_ned_mps=(1.0, 0.0, 0.0), distance_m=14.0)
    img = gcs.recv_one("CAMERA_TRACKING_IMAGE_STATUS")
    assert img.tracking_status == mav2.CAMERA_TRACKING_STATUS_FLAGS_ACTIVE
    assert (img.rec_top_x, img.rec_top_y, img.rec_bottom_x, img.rec_bottom_y) == pytest.approx((0.2, 0.3, 0.4, 0.7))
    geo = gcs.recv_one("CAMERA_TRACKING_GEO_STATUS")
    assert geo.lat == 474000000 and geo.dist == pytest.approx(14.0) and geo.hdg == pytest.approx(0.0)


def test_command_to_companion_component_is_unsupported(rig, gcs_factory) -> None:
    bridge, _ap = rig(handler=Handler())
    gcs = gcs_factory(bridge)
    gcs.heartbeat()
    pump(bridge, 0.05)
    gcs.command(400, 1.0, target_component=191)  # someone asks the companion to arm: it cannot
    pump(bridge, 0.1)
    ack = gcs.recv_one("COMMAND_ACK", pred=lambda m: m.command == 400)
    assert ack.result == mav2.MAV_RESULT_UNSUPPORTED
