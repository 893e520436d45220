"""Simulator: world (people, trees, wind, fence), multicopter dynamics and GUIDED autopilot, detection-noise
model, named scenarios and a gymnasium environment.

Importing the package registers the gymnasium environment ``PersonFollow-v0`` (``sim.env:PersonFollowEnv``);
registering again on a repeated import is skipped.
"""

from __future__ import annotations

import gymnasium

ENV_ID = "PersonFollow-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="sim.env:PersonFollowEnv")

__all__ = ["ENV_ID"]
