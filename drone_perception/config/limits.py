"""Hard limits of the safety charter. These are code, not configuration: a config may be stricter,
never looser. The governor enforces them again at run time (defence in depth)."""

from __future__ import annotations

#: Charter item 1: the standoff may be raised by config, never below this floor.
HARD_MIN_STANDOFF_M = 5.0
#: Hard caps on what any config may allow.
HARD_MAX_HORIZONTAL_SPEED_MPS = 12.0
HARD_MAX_VERTICAL_SPEED_MPS = 4.0
HARD_MAX_ACCEL_MPS2 = 6.0
HARD_MAX_YAW_RATE_RADPS = 1.5
HARD_MAX_CEILING_M = 120.0
HARD_MIN_FLOOR_M = 2.0
#: A command may live at most this long before the bridge must drop it.
HARD_MAX_COMMAND_TTL_S = 0.5
#: Speed allowed into directions the camera has not observed may never exceed this.
HARD_MAX_UNOBSERVED_SPEED_MPS = 1.5
#: Height of a person as the governor models them: a vertical body from the ground up.
PERSON_HEIGHT_M = 2.0
