"""Runners outside the simulator: they assemble real parts (a camera or video, the MAVLink bridge, the ground
station's operator) and call the one control loop (:class:`drone_perception.loop.ControlLoop`). The simulated
runners are in :mod:`sim.runners`. Layer: below the CLI, above ``firmware_bridge``, ``sim`` and the core."""
