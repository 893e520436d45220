"""Control: the follow controller, the geofence and the safety governor (run-time assurance).

The follow controller proposes; the governor decides what may be sent (see ``governor`` for the rules
and ``limits`` for the names of every limit it applies).
"""

from __future__ import annotations

from drone_perception.control.follow import FollowController
from drone_perception.control.geofence import Boundary, Geofence, stopping_point
from drone_perception.control.governor import GovernorInput, GovernorOutput, SafetyGovernor

__all__ = [
    "Boundary",
    "FollowController",
    "Geofence",
    "GovernorInput",
    "GovernorOutput",
    "SafetyGovernor",
    "stopping_point",
]
