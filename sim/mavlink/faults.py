"""Explicit, seeded fault injection for the simulated MAVLink link and GPS.

All randomness comes from the ``numpy.random.Generator`` passed in; all times are simulated seconds, so a
lock-step test with one seed is reproducible.

- packet loss: each datagram (each direction, each peer) is dropped with probability ``loss_probability``;
- latency: each datagram is delivered ``latency_s`` (+ uniform jitter in [0, ``latency_jitter_s``]) later;
- link drop: during a window nothing is sent or received (``LinkFaults.drop_link``);
- GPS glitch: the reported (estimated) position jumps by an offset for a window (``GpsGlitch``);
- malformed MAVLink: during a window some outgoing datagrams are garbled (``Malformation``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from drone_perception.errors import InvalidValueError

T = TypeVar("T")


@dataclass(frozen=True)
class LinkFaultConfig:
    """Link impairments applied in both directions.

    ``loss_probability`` in [0, 1): raising it drops more datagrams. ``latency_s`` >= 0 and
    ``latency_jitter_s`` >= 0 (seconds) delay each datagram; jitter can reorder datagrams, as UDP may.
    """

    loss_probability: float = 0.0
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.loss_probability < 1.0):
            raise InvalidValueError(f"loss_probability {self.loss_probability} outside [0, 1)")
        for name in ("latency_s", "latency_jitter_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 10.0):
                raise InvalidValueError(f"{name} {v} outside [0, 10] s")


@dataclass(frozen=True)
class GpsGlitch:
    """The reported position is offset by ``offset_ned_m`` (m, NED) during [start_s, start_s + duration_s)."""

    start_s: float
    duration_s: float
    offset_ned_m: tuple[float, float, float]

    def active(self, now_s: float) -> bool:
        return self.start_s <= now_s < self.start_s + self.duration_s


#: The reports whose garbled values a receiver must catch: where the vehicle is, how it points, what it does.
STATE_REPORTS = frozenset({"LOCAL_POSITION_NED", "GLOBAL_POSITION_INT", "ATTITUDE", "HEARTBEAT", "HOME_POSITION"})


@dataclass
class Malformation:
    """Outgoing datagrams garbled during [start_s, start_s + duration_s): each with ``probability``, drawn from
    its own ``rng``. Half are state reports (:data:`STATE_REPORTS`) re-packed in a valid frame with one field set
    to a non-finite or absurd value (a buggy or hostile sender: the receiver's plausibility checks must reject
    it); the rest, and every other message, get 1-3 bytes flipped (the checksum fails: the receiver must drop the
    frame, not parse it)."""

    start_s: float
    duration_s: float
    probability: float
    rng: np.random.Generator
    garbled_values: int = 0
    garbled_bytes: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_s) and self.duration_s > 0.0 and 0.0 <= self.probability <= 1.0):
            raise InvalidValueError(f"malformation {self.duration_s} s / p {self.probability}: need duration > 0, "
                                    "p in [0, 1]")

    def active(self, now_s: float) -> bool:
        return self.start_s <= now_s < self.start_s + self.duration_s

    def garble(self, msg: Any, pack: Callable[[Any], bytes]) -> bytes | None:
        """The datagram to send instead of ``msg``'s (None: send it as it is)."""
        rng = self.rng
        if rng.random() >= self.probability:
            return None
        if msg.get_type() in STATE_REPORTS and rng.random() < 0.5:
            name = str(rng.choice(msg.get_fieldnames()))
            old = getattr(msg, name)
            if isinstance(old, float):
                new: Any = (math.nan, math.inf, -math.inf, 1e9)[int(rng.integers(4))]
            elif isinstance(old, int):
                new = int(rng.choice([0, 2**31 - 1, -(2**31), 255]))
            else:
                new = None
            if new is not None:
                try:
                    setattr(msg, name, new)
                    data = pack(msg)
                except (ValueError, OverflowError, TypeError, struct.error):  # a value the field cannot hold
                    setattr(msg, name, old)
                else:
                    self.garbled_values += 1
                    return data
        frame = bytearray(pack(msg))
        for i in rng.choice(len(frame), size=min(len(frame), int(rng.integers(1, 4))), replace=False):
            frame[int(i)] ^= int(rng.integers(1, 256))
        self.garbled_bytes += 1
        return bytes(frame)


@dataclass
class LinkStats:
    """Counters (datagrams) per direction, for tests and the CLI summary."""

    tx_attempted: int = 0
    tx_dropped: int = 0
    rx_attempted: int = 0
    rx_dropped: int = 0


class DelayQueue(Generic[T]):
    """Items released at their due time (simulated seconds); FIFO among equal due times."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._counter = itertools.count()

    def push(self, due_s: float, item: T) -> None:
        heapq.heappush(self._heap, (due_s, next(self._counter), item))

    def pop_due(self, now_s: float) -> list[T]:
        out: list[T] = []
        while self._heap and self._heap[0][0] <= now_s:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class LinkFaults:
    """Mutable fault state of one link: the configuration plus scheduled link drops, seeded RNG, counters."""

    config: LinkFaultConfig
    rng: np.random.Generator
    drops: list[tuple[float, float]] = field(default_factory=list)
    stats: LinkStats = field(default_factory=LinkStats)
    malformations: list[Malformation] = field(default_factory=list)

    def malformation(self, now_s: float) -> Malformation | None:
        """The malformation window active at ``now_s``, if any."""
        for m in self.malformations:
            if m.active(now_s):
                return m
        return None

    def drop_link(self, start_s: float, duration_s: float) -> None:
        """Nothing crosses the link during [start_s, start_s + duration_s) (simulated seconds)."""
        if not (math.isfinite(start_s) and math.isfinite(duration_s) and duration_s > 0.0):
            raise InvalidValueError(f"link drop start {start_s} s / duration {duration_s} s: need duration > 0")
        self.drops.append((float(start_s), float(start_s) + float(duration_s)))

    def link_down(self, now_s: float) -> bool:
        return any(a <= now_s < b for a, b in self.drops)

    def _lost(self, now_s: float) -> bool:
        if self.link_down(now_s):
            return True
        p = self.config.loss_probability
        return p > 0.0 and bool(self.rng.random() < p)

    def delay_s(self) -> float:
        j = self.config.latency_jitter_s
        return self.config.latency_s + (float(self.rng.uniform(0.0, j)) if j > 0.0 else 0.0)

    def tx_lost(self, now_s: float) -> bool:
        """Decide (and count) whether one outgoing datagram is lost."""
        self.stats.tx_attempted += 1
        lost = self._lost(now_s)
        self.stats.tx_dropped += int(lost)
        return lost

    def rx_lost(self, now_s: float) -> bool:
        """Decide (and count) whether one incoming datagram is lost."""
        self.stats.rx_attempted += 1
        lost = self._lost(now_s)
        self.stats.rx_dropped += int(lost)
        return lost
