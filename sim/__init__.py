"""Simulator, in subpackages that say what they are: ``world`` (people, trees, wind, fence, multicopter and its
GUIDED autopilot, scenarios), ``sensing`` (detection model, renderer), ``mavlink`` (a simulated ArduCopter on
MAVLink and the scripted ground station), ``tracking`` (synthetic tracking scenarios and metrics), ``runners`` (the
simulated modes on the one control loop), and ``env`` (a gymnasium environment).

Importing the package registers the gymnasium environment ``PersonFollow-v0`` (``sim.env:PersonFollowEnv``);
registering again on a repeated import is skipped.
"""

from __future__ import annotations

import gymnasium

ENV_ID = "PersonFollow-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="sim.env:PersonFollowEnv")

__all__ = ["ENV_ID"]
