"""The bridge against the simulated ArduCopter (``sim.mavlink.vehicle``) over loopback UDP: parameters,
fence, operator launch by the scripted ground station, follow, then a pipeline stall ending in BRAKE."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fb_peers import ListRecorder, safe_command

from drone_perception.config.link import LinkConfig
from drone_perception.config.safety import FenceConfig
from firmware_bridge.allowlist import ALLOWED_MESSAGES
from firmware_bridge.bridge import MavlinkBridge

mavlink_vehicle = pytest.importorskip("sim.mavlink.vehicle")
gcs_script = pytest.importorskip("sim.mavlink.ground_station")


def test_follow_then_stall_against_sim_vehicle() -> None:
    cfg = mavlink_vehicle.SimVehicleConfig(gps_lock_s=0.2)
    vehicle = mavlink_vehicle.MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0), config=cfg)
    running = vehicle.start_thread()
    port = vehicle.local_address[1]
    recorder = ListRecorder()
    bridge = MavlinkBridge.open(LinkConfig(connection=f"udpout:127.0.0.1:{port}"), recorder=recorder)
    gcs = gcs_script.ScriptedGroundStation(f"udpout:127.0.0.1:{port}", heartbeat_hz=5.0)
    try:
        bridge.connect(timeout_s=5.0)
        assert bridge.configure_command_timeout(0.5, timeout_s=3.0) == pytest.approx(0.5)
        bridge.upload_fence(FenceConfig(), timeout_s=5.0)

        launched = threading.Event()

        def launch() -> None:
            gcs.operator_launch(6.0, timeout_s=12.0)  # above the fence floor (3 m)
            launched.set()

        threading.Thread(target=launch, daemon=True).start()
        deadline = time.monotonic() + 13.0
        while not launched.is_set() and time.monotonic() < deadline:
            bridge.poll(time.monotonic(), timeout_s=0.02)
        assert launched.is_set(), "the scripted operator did not get the vehicle airborne"
        t_end = time.monotonic() + 0.5
        while time.monotonic() < t_end:  # keep GCS heartbeats (dead-man) flowing through the vehicle's routing
            gcs.heartbeat()
            bridge.poll(time.monotonic(), timeout_s=0.02)
        ok, why = bridge.engage(time.monotonic())
        assert ok, why
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            now = time.monotonic()
            gcs.heartbeat()
            bridge.poll(now)
            assert bridge.send(safe_command(now, (1.0, 0.0, 0.0)), now)
            time.sleep(0.05)
        assert vehicle.velocity_ned_mps[0] > 0.3  # it followed the setpoints
        # pipeline stalls: one hold, then BRAKE
        t_end = time.monotonic() + 1.5
        while time.monotonic() < t_end:
            now = time.monotonic()
            gcs.heartbeat()
            bridge.poll(now, timeout_s=0.02)
            bridge.check_stall(now)
        assert vehicle.mode == "BRAKE"
        assert bridge.vehicle_state(time.monotonic()).mode == "BRAKE"
        assert not bridge.engagement.following
        assert {m["msg_type"] for m in recorder.topic("/mavlink/out")} <= ALLOWED_MESSAGES
    finally:
        running.stop()
        bridge.close()
        gcs.link.close()
        vehicle.close()
