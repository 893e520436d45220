"""What the crew is told in the ground station (STATUSTEXT, shown by QGroundControl and Mission Planner) and
the same words in the flight record (``/autopilot/events``, kind ``crew_notice``): follow engaged or refused,
disengaged and why, the dead-man lost, a hold and its reason, the subject lock acquired / lost, a standoff or
fence limit binding, the pipeline stalled.

Each notice has a key; the same key and text is repeated at most every ``repeat_s`` (a flapping limit must not
flood the link or the crew), and a text is cut to the 50 characters a STATUSTEXT carries. Severities follow
MAVLink: CRITICAL for a stall, WARNING for a disengage or a lost lock, NOTICE for holds and limits, INFO for
engage and lock.
"""

from __future__ import annotations

import logging
from typing import Any

from pymavlink.dialects.v20 import common as mav2

from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.record import topics

log = logging.getLogger(__name__)

CRITICAL = mav2.MAV_SEVERITY_CRITICAL
WARNING = mav2.MAV_SEVERITY_WARNING
NOTICE = mav2.MAV_SEVERITY_NOTICE
INFO = mav2.MAV_SEVERITY_INFO
#: Characters in one STATUSTEXT.
STATUSTEXT_CHARS = 50
#: Prefix that tells the crew which component speaks.
PREFIX = "DP: "


class CrewNotices:
    """Sends each notice once (rate-limited per key) as STATUSTEXT on ``link`` and records it."""

    def __init__(self, link: Any, recorder: Recorder | None = None, *, repeat_s: float = 5.0) -> None:
        self._link = link
        self._recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.repeat_s = repeat_s
        self._last: dict[str, tuple[str, float]] = {}
        #: Every notice sent: (stamp_s, severity, text), for tests and the summary.
        self.sent: list[tuple[float, int, str]] = []

    def say(self, key: str, severity: int, text: str, now_s: float) -> bool:
        """Tell the crew ``text``; False when the same ``key`` said the same text less than ``repeat_s`` ago."""
        full = (PREFIX + text)[:STATUSTEXT_CHARS]
        last = self._last.get(key)
        if last is not None and last[0] == full and now_s - last[1] < self.repeat_s:
            return False
        self._last[key] = (full, now_s)
        try:
            self._link.send(self._link.mav.statustext_encode(severity, full.encode("ascii", "replace")), now_s)
        except Exception:  # telling the crew must never take the control path down
            log.exception("could not send STATUSTEXT %r", full)
        self._recorder.record(topics.AUTOPILOT_EVENTS, now_s,
                              {"kind": "crew_notice", "severity": int(severity), "text": full, "stamp_s": now_s})
        self.sent.append((now_s, int(severity), full))
        return True

    def forget(self, key: str) -> None:
        """The condition behind ``key`` ended: its next notice goes out at once."""
        self._last.pop(key, None)


__all__ = ["CRITICAL", "INFO", "NOTICE", "PREFIX", "STATUSTEXT_CHARS", "WARNING", "CrewNotices"]
