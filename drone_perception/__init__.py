"""drone-perception: film and follow a person at a safe distance.

Pure cores (geometry, tracking, estimation, control, the safety governor) take explicit time and do no I/O;
cameras, sockets, files and clocks live at the edges. See DESIGN.md for the safety charter.
"""

__version__ = "0.1.0"
