"""The live loop (``drone-perception run``): charter item 7 refusal, perception-only against the MAVLink sim
vehicle sends no setpoint, a video that ends stops cleanly, a dead link stops with a clear error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from drone_perception.camera_pose import camera_from_vehicle, intrinsics_from_config
from drone_perception.cli import main
from drone_perception.config import StackConfig, config_from_dict
from drone_perception.errors import CharterViolation, SourceExhausted
from drone_perception.pipeline import Pipeline
from drone_perception.runners.live import LiveLoop, check_control_allowed, run_live
from drone_perception.sources import RawFrame
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.types import Detections, Frame, VehicleState
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.errors import LinkTimeout

mavlink_vehicle = pytest.importorskip("sim.mavlink.vehicle")

TETHERED = {"fence": {"tethered": True, "tether_length_m": 30.0}}


@pytest.mark.parametrize(("config", "control", "sitl", "refused"), [
    ({}, True, False, True),
    ({}, False, False, False),
    ({}, True, True, False),
    (TETHERED, True, False, False),
])
def test_control_needs_tether_or_sitl(config: dict, control: bool, sitl: bool, refused: bool) -> None:
    cfg = config_from_dict(config)
    if refused:
        with pytest.raises(CharterViolation, match="charter item 7"):
            check_control_allowed(cfg, control=control, sitl=sitl)
    else:
        check_control_allowed(cfg, control=control, sitl=sitl)


def test_run_refuses_untethered_control_before_opening_anything(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # The source does not exist and nothing listens: only the charter check can produce this error.
    with pytest.raises(CharterViolation, match=r"fence\.tethered"):
        run_live(StackConfig(), connect="udpin:127.0.0.1:0", source=str(tmp_path / "none.mp4"), control=True)
    assert main(["run", "--connect", "udpin:127.0.0.1:0", "--source", str(tmp_path / "none.mp4"), "--control"]) == 2
    assert "charter item 7" in capsys.readouterr().err


class BoxDetector:
    """A stand-in detector (the ONNX one is tested in tests/drone_perception/detect): one person box."""

    def detect(self, frame: Frame) -> Detections:
        return Detections(np.array([[600.0, 300.0, 660.0, 460.0]], np.float32), np.array([0.9], np.float32),
                          np.zeros(1, np.int64), frame.stamp_s)


def _video(path: Path, n: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (320, 180))
    for i in range(n):
        img = np.full((180, 320, 3), 40 + i, np.uint8)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture
def sim_vehicle() -> Iterator[Any]:
    """The simulated ArduCopter on its own real-time thread (``.vehicle``; ``.stop()`` silences it)."""
    vehicle = mavlink_vehicle.MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0),
                                                config=mavlink_vehicle.SimVehicleConfig(gps_lock_s=0.1))
    with vehicle.start_thread() as running:
        yield running


def test_perception_only_against_sim_vehicle_sends_no_setpoint(tmp_path: Path, sim_vehicle: Any) -> None:
    port = sim_vehicle.vehicle.local_address[1]
    video = _video(tmp_path / "clip.avi", 15)
    stats = run_live(StackConfig(), connect=f"udpout:127.0.0.1:{port}", source=str(video), control=False,
                     connect_timeout_s=5.0, detector=BoxDetector(), record=tmp_path / "live.mcap")
    assert stats.frames == 15
    assert stats.stop_reason.startswith("source ended")
    assert stats.setpoints_sent == 0
    received = sim_vehicle.vehicle.received_counts
    assert received.get("HEARTBEAT", 0) >= 1  # the companion was on the link
    assert received.get("SET_POSITION_TARGET_LOCAL_NED", 0) == 0
    assert (tmp_path / "live.mcap").stat().st_size > 0


class EndlessSource:
    def __init__(self) -> None:
        self.seq = 0

    def read(self, timeout_s: float = 1.0) -> RawFrame:
        time.sleep(0.02)
        self.seq += 1
        if self.seq > 400:
            raise SourceExhausted("test source ended")
        return RawFrame(np.zeros((90, 160, 3), np.uint8), time.monotonic(), self.seq, f"f{self.seq}")

    def close(self) -> None:
        return None


def test_dead_link_stops_with_a_clear_error(sim_vehicle: Any) -> None:
    port = sim_vehicle.vehicle.local_address[1]
    cfg = StackConfig()
    bridge = MavlinkBridge.open(cfg.link.model_copy(update={"connection": f"udpout:127.0.0.1:{port}"}))
    try:
        bridge.connect(timeout_s=5.0)
        pipeline = Pipeline(cfg, tracker=ByteTracker(cfg.tracker), detector=BoxDetector())
        loop = LiveLoop(cfg, pipeline, bridge, EndlessSource(), control=False, link_dead_s=0.5)
        for _ in range(5):
            loop.step()
        sim_vehicle.stop()  # the autopilot goes silent
        t0 = time.monotonic()
        with pytest.raises(LinkTimeout, match=r"dead for more than 0\.5 s"):
            loop.run()
        assert time.monotonic() - t0 < 3.0
    finally:
        bridge.close()


@pytest.mark.parametrize(("position", "yaw", "valid"), [
    ((0.0, 0.0, -8.0), 0.0, True),
    ((np.nan, 0.0, -8.0), 0.0, False),
    ((1.0, 2.0, -8.0), np.nan, False),
])
def test_camera_from_vehicle(position: tuple[float, float, float], yaw: float, valid: bool) -> None:
    cfg = StackConfig()
    state = VehicleState(position_ned_m=np.array(position), velocity_ned_mps=np.zeros(3),
                         attitude_rpy_rad=np.array([0.0, 0.0, yaw]), armed=True, mode="GUIDED", link_ok=True,
                         stamp_s=0.0)
    cam = camera_from_vehicle(intrinsics_from_config(cfg), state, -0.35)
    assert (cam is not None) == valid
    if cam is not None:
        forward = cam.R_ned_from_cam[:, 2]
        assert forward[0] > 0.9 and forward[2] > 0.3  # looking north and down


def test_closed_loop_on_sitl_writes_the_timeout_and_uploads_the_fence_first(tmp_path: Path,
                                                                           sim_vehicle: Any) -> None:
    """``run --control --sitl``: before the first frame the autopilot gets a short GUID_TIMEOUT and the stack's
    fence, both read back (the second layer); nothing flies because nobody armed or engaged."""
    port = sim_vehicle.vehicle.local_address[1]
    cfg = StackConfig()
    stats = run_live(cfg, connect=f"udpout:127.0.0.1:{port}", source=str(_video(tmp_path / "c.avi", 5)),
                     control=True, sitl=True, connect_timeout_s=5.0, detector=BoxDetector())
    ap = sim_vehicle.vehicle.ap
    assert ap.params.get("GUID_TIMEOUT") == pytest.approx(cfg.link.guided_timeout_s)
    assert ap.params.get("FENCE_ENABLE") == 1
    assert ap.params.get("FENCE_ALT_MAX") == pytest.approx(cfg.fence.altitude_ceiling_m)
    (polygon,) = ap.fence.inclusion_polygons
    assert np.abs(polygon - np.asarray(cfg.fence.polygon_ne_m)).max() < 0.05
    assert stats.setpoints_sent == 0 and not ap.armed


def test_fence_upload_can_be_left_to_the_crew(tmp_path: Path, sim_vehicle: Any) -> None:
    port = sim_vehicle.vehicle.local_address[1]
    cfg = StackConfig.model_validate({"link": {"upload_fence": False}})
    run_live(cfg, connect=f"udpout:127.0.0.1:{port}", source=str(_video(tmp_path / "c.avi", 3)),
             control=True, sitl=True, connect_timeout_s=5.0, detector=BoxDetector())
    assert sim_vehicle.vehicle.ap.fence.empty and not sim_vehicle.vehicle.ap.params.get("FENCE_ENABLE")


def test_fence_without_the_altitude_floor_for_autopilots_that_lack_it(tmp_path: Path, sim_vehicle: Any) -> None:
    port = sim_vehicle.vehicle.local_address[1]
    cfg = StackConfig.model_validate({"link": {"fence_altitude_floor": False}})
    run_live(cfg, connect=f"udpout:127.0.0.1:{port}", source=str(_video(tmp_path / "c.avi", 3)),
             control=True, sitl=True, connect_timeout_s=5.0, detector=BoxDetector())
    params = sim_vehicle.vehicle.ap.params
    assert params.get("FENCE_ENABLE") == 1 and not int(params.get("FENCE_TYPE")) & 8  # polygon + ceiling only
    assert params.get("FENCE_ALT_MIN") == pytest.approx(-10.0)  # never written
    assert sim_vehicle.vehicle.ap.fence.inclusion_polygons


def test_every_live_run_records_by_default_and_never_overwrites(tmp_path: Path, sim_vehicle: Any,
                                                                monkeypatch: Any, capsys: Any) -> None:
    """#14: `run` without --record wrote no evidence; a second run with the same --record overwrote the first."""
    from drone_perception.cli import main
    from drone_perception.runners import live

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(live, "load_detector", lambda cfg: BoxDetector(), raising=False)
    import drone_perception.detect as detect_pkg

    monkeypatch.setattr(detect_pkg, "load_detector", lambda cfg: BoxDetector())
    port = sim_vehicle.vehicle.local_address[1]
    video = _video(tmp_path / "clip.avi", 5)
    argv = ["run", "--connect", f"udpout:127.0.0.1:{port}", "--source", str(video), "--connect-timeout", "5"]
    assert main(argv) == 0
    records = list((tmp_path / "runs" / "live").glob("*.mcap"))
    assert len(records) == 1 and records[0].stat().st_size > 0
    assert f"record: {records[0].relative_to(tmp_path)}" in capsys.readouterr().out
    given = tmp_path / "flight.mcap"
    given.write_bytes(b"earlier evidence")
    assert main([*argv, "--record", str(given)]) == 2
    assert "never overwritten" in capsys.readouterr().err and given.read_bytes() == b"earlier evidence"
