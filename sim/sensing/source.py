"""What a simulated perception source offers the runners: the loop's ``sense`` plus the ground truth of whether
the subject was in view (the summaries' "subject in view" share)."""

from __future__ import annotations

from typing import Protocol

from drone_perception.loop import Sensed


class SimPerception(Protocol):
    """A simulated perception source that knows the ground truth of the subject being in view."""

    def sense(self, now_s: float) -> Sensed: ...

    def subject_in_view(self) -> bool: ...


__all__ = ["SimPerception"]
