"""A simulated ArduCopter on MAVLink (modes, pre-arm, GUIDED timeout, fence, parameters, telemetry, link faults)
and the scripted ground station a crew would use; the stack's bridge talks to it as to a real autopilot."""
