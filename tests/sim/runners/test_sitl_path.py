"""``drone-perception sim --link mavlink --connect URL``: the external-SITL path (``run_sitl_scenario``), here
against our simulated ArduCopter running in real time in its own thread, exactly as an external SITL would:
separate clock, its own local frame (it stands 30 m north, 20 m west of its origin), two MAVLink peers (the
bridge and the scripted crew). No ArduPilot/PX4 binary is available in CI; this checks our side of the wire."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from drone_perception.config import StackConfig
from drone_perception.errors import DronePerceptionError
from sim.mavlink.vehicle import MavlinkSimVehicle, SimVehicleConfig, default_dynamics
from sim.runners.mavlink_world import shift_fence
from sim.runners.sitl import run_sitl_scenario
from sim.world.scenarios import get_scenario

GROUND_NE = (30.0, -20.0)


@pytest.fixture
def sitl() -> Iterator[MavlinkSimVehicle]:
    vehicle = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(3),
                                config=SimVehicleConfig(gps_lock_s=0.5),
                                dynamics=default_dynamics(np.array([*GROUND_NE, 0.0])))
    with vehicle.start_thread():
        yield vehicle


def test_external_sitl_path_follows_keeps_standoff_and_uploads_the_shifted_fence(sitl: MavlinkSimVehicle) -> None:
    url = f"udpout:127.0.0.1:{sitl.local_address[1]}"
    config = StackConfig()
    result = run_sitl_scenario("walk", config, connect=url, gcs_connect=url, seed=0, duration_s=10.0)
    assert result.passed, result.failures
    assert result.commands_sent > 20  # it engaged and streamed setpoints (fewer on a loaded machine: real time)
    assert result.min_separation_any_m >= result.standoff_m
    assert sitl.ap.params.get("GUID_TIMEOUT") == pytest.approx(config.link.guided_timeout_s)
    # The stack's fence (scenario frame) arrives in the SITL's frame: shifted by where the SITL vehicle stood.
    world = get_scenario("walk").build(np.random.default_rng(0), config)
    start = np.asarray(world.vehicle.position_ned_m[:2])
    expected = shift_fence(world.stack_config(config).fence, np.asarray(GROUND_NE) - start).polygon_ne_m
    (polygon,) = sitl.ap.fence.inclusion_polygons
    assert np.abs(polygon - np.asarray(expected)).max() < 0.05
    assert not sitl.ap.breached and sitl.ap.mode.name == "GUIDED"


def test_external_sitl_that_never_answers_is_a_clear_error() -> None:
    with pytest.raises(DronePerceptionError, match=r"cannot connect to udpout:127\.0\.0\.1:9"):
        run_sitl_scenario("walk", StackConfig(), connect="udpout:127.0.0.1:9", gcs_connect="udpout:127.0.0.1:9",
                          duration_s=1.0, connect_timeout_s=0.5)
