"""Read a flight record back, tolerating what a crash or a bad disk leaves behind.

:func:`read_record` never raises for damaged content: it returns every message it could decode plus a
list of problems (truncated file, corrupt chunk, undecodable message, missing footer). It raises
:class:`RecordError` only when the file cannot be opened at all.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.exceptions import EndOfFile, InvalidMagic, RecordLengthLimitExceeded
from mcap.records import Channel, Chunk, Footer, Message, Schema
from mcap.stream_reader import StreamReader, breakup_chunk

from drone_perception.record import topics
from drone_perception.record.errors import RecordError
from drone_perception.record.mcap_recorder import RECORD_STAMP_KEY

log = logging.getLogger(__name__)

#: At most this many problems of one kind are listed one by one; the rest are counted.
_MAX_LISTED = 5

Stamped = tuple[float, dict[str, Any]]


@dataclass(frozen=True)
class FlightLog:
    """What could be read from a record.

    ``messages``: topic -> [(stamp_s, payload)] sorted by ``stamp_s`` (stack monotonic seconds).
    ``problems``: human-readable damage found while reading (empty for a clean, closed record).
    ``complete``: the MCAP footer was read (the recorder was closed, not killed).
    """

    path: Path
    messages: dict[str, list[Stamped]]
    problems: tuple[str, ...]
    complete: bool
    size_bytes: int
    schema_names: dict[str, str] = field(default_factory=dict)
    #: Median of (MCAP log_time, wall clock s) - stamp_s: maps stack time to wall time. None if unknown.
    wall_minus_stamp_s: float | None = None

    def get(self, topic: str) -> list[Stamped]:
        return self.messages.get(topic, [])

    def first(self, topic: str) -> dict[str, Any] | None:
        msgs = self.messages.get(topic)
        return msgs[0][1] if msgs else None

    @property
    def message_count(self) -> int:
        return sum(len(v) for v in self.messages.values())

    @property
    def time_span_s(self) -> tuple[float, float] | None:
        """(first, last) ``stamp_s`` over all topics, or None when nothing was read."""
        stamps = [s for msgs in self.messages.values() for s, _ in (msgs[0], msgs[-1])] if self.messages else []
        return (min(stamps), max(stamps)) if stamps else None

    @property
    def readable(self) -> bool:
        return self.message_count > 0


class _Collector:
    def __init__(self, keep_camera_data: bool) -> None:
        self.keep_camera_data = keep_camera_data
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[str, int]] = {}
        self.messages: dict[str, list[Stamped]] = {}
        self.problems: list[str] = []
        self.bad_messages = 0
        self.orphans = 0
        self.wall_offsets: list[float] = []

    def add(self, record: Any) -> None:
        if isinstance(record, Schema):
            self.schemas[record.id] = record.name
        elif isinstance(record, Channel):
            self.channels[record.id] = (record.topic, record.schema_id)
        elif isinstance(record, Message):
            self._message(record)

    def _message(self, msg: Message) -> None:
        chan = self.channels.get(msg.channel_id)
        if chan is None:
            self.orphans += 1
            return
        topic = chan[0]
        try:
            payload = json.loads(msg.data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.bad_messages += 1
            if self.bad_messages <= _MAX_LISTED:
                self.problems.append(f"undecodable JSON message on {topic}: {exc}")
            return
        if not isinstance(payload, dict):
            payload = {"value": payload}
        stamp = payload.get(RECORD_STAMP_KEY, payload.get("stamp_s"))
        if not isinstance(stamp, (int, float)):
            stamp = msg.publish_time * 1e-9
        if topic == topics.CAMERA and not self.keep_camera_data and "data" in payload:
            payload["data_bytes"] = len(payload.pop("data")) * 3 // 4
        self.messages.setdefault(topic, []).append((float(stamp), payload))
        if len(self.wall_offsets) < 1000 and msg.log_time > 0:
            self.wall_offsets.append(msg.log_time * 1e-9 - float(stamp))


def read_record(path: str | Path, *, keep_camera_data: bool = False) -> FlightLog:
    """Read every decodable message of the MCAP flight record at ``path``.

    ``keep_camera_data``: keep the base64 JPEG of camera frames (dropped by default to save memory;
    ``data_bytes`` says how big it was). Raises :class:`RecordError` if the file cannot be opened.
    """
    p = Path(path)
    try:
        size = os.path.getsize(p)
        stream = open(p, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise RecordError(f"cannot open flight record {p}: {exc.strerror or exc}") from None
    col = _Collector(keep_camera_data)
    complete = False
    with stream:
        if size == 0:
            col.problems.append(f"{p} is empty (0 bytes): nothing was recorded")
        else:
            complete = _read_stream(StreamReader(stream, emit_chunks=True, record_size_limit=size), col, size)
    if col.bad_messages > _MAX_LISTED:
        col.problems.append(f"... {col.bad_messages} undecodable messages in all")
    if col.orphans:
        col.problems.append(f"{col.orphans} messages on channels whose definition was lost")
    for msgs in col.messages.values():
        msgs.sort(key=lambda m: m[0])
    schema_names = {t: col.schemas.get(sid, "") for t, sid in col.channels.values()}
    if col.problems:
        log.warning("flight record %s: %s", p, "; ".join(col.problems))
    wall = statistics.median(col.wall_offsets) if col.wall_offsets else None
    return FlightLog(p, col.messages, tuple(col.problems), complete, size, schema_names, wall)


def _read_stream(reader: StreamReader, col: _Collector, size: int) -> bool:
    """Feed every record to ``col``; return True when the footer was reached."""
    try:
        for record in reader.records:
            if isinstance(record, Chunk):
                try:
                    for inner in breakup_chunk(record, validate_crc=True):
                        col.add(inner)
                except Exception as exc:  # any decoder error means this chunk is lost
                    span = (record.message_start_time, record.message_end_time)
                    col.problems.append(f"corrupt chunk skipped (log time {span[0]}..{span[1]} ns): "
                                        f"{type(exc).__name__}: {exc}")
            elif isinstance(record, Footer):
                return True
            else:
                col.add(record)
    except InvalidMagic:
        col.problems.append(f"not an MCAP file (bad magic bytes) ({size} bytes)")
    except (EndOfFile, struct.error, RecordLengthLimitExceeded):
        # A record that runs past the end of the file: the writer was stopped mid-way.
        col.problems.append(f"record truncated after {size} bytes: no MCAP footer (the recorder was not "
                            "closed; the run probably crashed or was killed)")
    except Exception as exc:  # the decoder raises anything on garbage: report it
        col.problems.append(f"corrupt record structure, reading stopped: {type(exc).__name__}: {exc}")
    if not any(p.startswith(("record truncated", "not an MCAP")) for p in col.problems):
        col.problems.append("no MCAP footer: the record is incomplete")
    return False


__all__ = ["FlightLog", "Stamped", "read_record"]
