"""Runners: each assembles a vehicle link, a perception source, the scripted crew, a clock and observers and calls
the one control loop (:class:`drone_perception.loop.ControlLoop`).

``direct`` (in-process autopilot), ``camera`` (rendered frames through the real detector), ``lockstep`` (the
MAVLink bridge against the simulated ArduCopter, deterministic), ``sitl`` (an external autopilot SITL in real time).
"""
