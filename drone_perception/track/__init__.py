"""Multi-person tracking (ByteTrack-class, ground-aware), the operator's subject lock, MOTChallenge I/O."""

from __future__ import annotations

from drone_perception.track.bytetrack import Assignment, ByteTracker, DetectionFate
from drone_perception.track.lock import LockState, LockStatus, SubjectLock

__all__ = ["Assignment", "ByteTracker", "DetectionFate", "LockState", "LockStatus", "SubjectLock"]
