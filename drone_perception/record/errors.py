"""Errors of the flight record (writing and reading)."""

from __future__ import annotations

from drone_perception.errors import DronePerceptionError


class RecordError(DronePerceptionError):
    """A flight record cannot be written or read (bad path, closed recorder, not an MCAP file)."""


class RecordClosedError(RecordError):
    """``record()`` was called after ``close()``."""
