"""Autopilot dialects: how mode numbers map to canonical names and how safer modes are *requested*.

ArduPilot Copter: the companion flies in GUIDED with SET_POSITION_TARGET_LOCAL_NED velocity + yaw-rate
setpoints; safer modes BRAKE / LOITER / RTL / LAND are requested with MAV_CMD_DO_SET_MODE
(param1 = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, param2 = copter mode number).

PX4: the companion flies in OFFBOARD. PX4 only accepts a switch into OFFBOARD while setpoints are already
streaming (> 2 Hz), and this stack sends nothing before follow is engaged (which needs OFFBOARD): as built the
pilot cannot hand over on PX4 (a known blocker, docs/SITL_AND_LIVE.md "PX4 SITL"). The bridge never switches
into OFFBOARD itself. HOLD (= AUTO_LOITER) / RTL / LAND are requested with
DO_SET_MODE (param1 = custom-mode flag, param2 = main mode, param3 = sub mode).

Canonical mode names are upper case; PX4's AUTO_LOITER is reported as ``LOITER`` (shown as "Hold" in QGC).

The tables and :class:`Dialect` itself live in :mod:`drone_perception.mavlink_tables` (plain data, no
pymavlink), shared with the audit; this module re-exports them for the bridge.
"""

from __future__ import annotations

from drone_perception.mavlink_tables import (
    ARDUCOPTER_MODES,
    ARDUPILOT,
    PX4,
    PX4_AUTO_SUB_MODES,
    PX4_MAIN_AUTO,
    PX4_MAIN_MODES,
    Dialect,
    dialect_for,
)

__all__ = ["ARDUCOPTER_MODES", "ARDUPILOT", "PX4", "PX4_AUTO_SUB_MODES", "PX4_MAIN_AUTO", "PX4_MAIN_MODES",
           "Dialect", "dialect_for"]
