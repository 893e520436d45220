"""Error hierarchy of the ``drone_perception`` package.

Every error the stack raises on purpose derives from :class:`DronePerceptionError`, so a shell can catch
one type. Errors name the offending field or value and, where one exists, the allowed range.
"""

from __future__ import annotations


class DronePerceptionError(Exception):
    """Base of every error raised on purpose by the stack."""


class InvalidValueError(DronePerceptionError, ValueError):
    """A value (array shape, NaN, out-of-range number) that a type or function cannot accept."""


class ConfigError(DronePerceptionError, ValueError):
    """A configuration file or value is malformed or outside its allowed range."""


class ModelError(DronePerceptionError):
    """A detector model is missing, corrupt, or has an unexpected input/output layout."""


class SourceError(DronePerceptionError):
    """A camera, video or image source cannot be opened or delivered a corrupt frame."""


class SourceExhausted(SourceError):
    """A finite source (video file, image directory) has no more frames: a clean stop, not a fault."""


class UnknownScenarioError(DronePerceptionError, KeyError):
    """A scenario name that the simulator does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class CharterViolation(DronePerceptionError):
    """Something asked for behaviour the safety charter forbids (e.g. closed-loop control untethered)."""
