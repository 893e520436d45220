"""Builders for governor inputs (a fixture, because test dirs have no __init__ and run in importlib mode)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from drone_perception.control.governor import GovernorInput
from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand

NOW = 100.0


def make_input(
    *,
    now: float = NOW,
    position: Sequence[float] = (0.0, 0.0, -10.0),
    velocity: Sequence[float] = (0.0, 0.0, 0.0),
    command: Sequence[float] | None = (1.0, 0.0, 0.0),
    yaw_rate: float = 0.0,
    people: Sequence[Sequence[float]] = ((60.0, 0.0, 0.0),),
    people_velocity: Sequence[Sequence[float]] | None = None,
    uncertainty: Sequence[float] | None = None,
    sector: tuple[float, float] | None = (0.0, 3.2),
    subject_valid: bool = True,
    **vehicle_kw: Any,
) -> GovernorInput:
    """A healthy input (every gate passes) with the given geometry; people positions are foot points.
    ``sector`` defaults to everything observed; the subject estimate is the first person, if any."""
    n = len(people)
    pos = np.array(people, dtype=float).reshape(n, 3)
    vel = np.zeros((n, 3)) if people_velocity is None else np.array(people_velocity, dtype=float).reshape(n, 3)
    unc = np.zeros(n) if uncertainty is None else np.array(uncertainty, dtype=float)
    vk: dict[str, Any] = {"armed": True, "mode": "GUIDED", "link_ok": True, "stamp_s": now}
    vk.update(vehicle_kw)
    veh = VehicleState(np.array(position, float), np.array(velocity, float), np.zeros(3), **vk)
    is_subj = np.zeros(n, bool)
    if n and subject_valid:
        is_subj[0] = True
        subj = TargetEstimate(1, pos[0], vel[0], np.eye(3) * unc[0] ** 2, now, True)
    elif subject_valid:
        subj = TargetEstimate(1, np.array([200.0, 0, 0]), np.zeros(3), np.zeros((3, 3)), now, True)
    else:
        subj = TargetEstimate.invalid(now)
    ppl = People(pos, vel, unc, np.full(n, now), is_subj, now)
    cmd = None if command is None else VelocityCommand(np.array(command, float), yaw_rate, now)
    return GovernorInput(now, cmd, veh, ppl, subj, OperatorInput(True, True, 1, now), now, sector)


@pytest.fixture(scope="session")
def build() -> Callable[..., GovernorInput]:
    return make_input
