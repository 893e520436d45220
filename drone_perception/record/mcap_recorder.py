"""The flight recorder: every stage's messages into one MCAP file that Foxglove opens.

Each topic of :mod:`drone_perception.record.topics` becomes one MCAP channel with ``json`` message
encoding and a ``jsonschema`` schema (inferred from the topic's first message unless declared).
Every payload carries the stack's monotonic ``stamp_s`` (seconds); the MCAP ``log_time`` is the wall
clock in nanoseconds and ``publish_time`` is ``stamp_s`` in nanoseconds, so Foxglove's timeline works
either way.

Crash safety: messages go into compressed MCAP chunks; a chunk is closed and the file flushed at least
every ``max_chunk_age_s`` (and whenever ``chunk_size_bytes`` fill up). A process that dies mid-run leaves
a file whose complete chunks are readable (:func:`drone_perception.record.reader.read_record`); at most
the last ``max_chunk_age_s`` of messages are lost. ``close()`` writes the MCAP summary and footer.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType, Writer

from drone_perception.record import topics
from drone_perception.record.errors import RecordClosedError, RecordError
from drone_perception.record.schemas import (
    COMPRESSED_IMAGE_SCHEMA,
    COMPRESSED_IMAGE_SCHEMA_NAME,
    infer_schema,
)
from drone_perception.types import Frame, to_jsonable

log = logging.getLogger(__name__)

#: Key added to a payload whose own ``stamp_s`` differs from the stamp it was recorded under.
RECORD_STAMP_KEY = "record_stamp_s"


def _compression(compress: bool) -> CompressionType:
    if not compress:
        return CompressionType.NONE
    try:
        import lz4.frame  # noqa: F401  (Foxglove reads lz4 and zstd chunks)

        return CompressionType.LZ4
    except ImportError:
        try:
            import zstandard  # noqa: F401

            return CompressionType.ZSTD
        except ImportError:
            log.warning("neither lz4 nor zstandard is installed: writing uncompressed chunks")
            return CompressionType.NONE


class FlightRecorder:
    """Append-only MCAP flight record (implements :class:`drone_perception.interfaces.Recorder`).

    Parameters:
        path: the ``.mcap`` file to create (its directory must exist; an existing file is replaced).
        compress: lz4-compress chunks (smaller files; costs a little CPU per closed chunk).
        chunk_size_bytes: a chunk is closed once this much uncompressed data is buffered. Smaller
            chunks lose less on a crash and compress worse.
        max_chunk_age_s: a chunk is closed and the file flushed at least this often (wall seconds):
            the most a crash can lose.
        camera_max_rate_hz: frames on :data:`topics.CAMERA` arriving faster than this (by their
            ``stamp_s``) are skipped, to keep JPEG encoding out of most control periods. ``None`` = all.
        jpeg_quality: JPEG quality 1..100 of recorded frames.
        schemas: optional ``{topic: json_schema}`` overriding the inferred schema of a topic.
        clock_ns: wall clock for MCAP ``log_time`` (injectable for tests).
        monotonic_s: clock deciding when a chunk is old (injectable for tests).

    Thread-safe: the bridge may record from its own thread.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        compress: bool = True,
        chunk_size_bytes: int = 256 * 1024,
        max_chunk_age_s: float = 1.0,
        camera_max_rate_hz: float | None = 2.0,
        jpeg_quality: int = 80,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if chunk_size_bytes < 1024:
            raise RecordError(f"chunk_size_bytes = {chunk_size_bytes}: must be >= 1024")
        if not max_chunk_age_s > 0:
            raise RecordError(f"max_chunk_age_s = {max_chunk_age_s}: must be > 0")
        if camera_max_rate_hz is not None and not camera_max_rate_hz > 0:
            raise RecordError(f"camera_max_rate_hz = {camera_max_rate_hz}: must be > 0 or None")
        if not 1 <= jpeg_quality <= 100:
            raise RecordError(f"jpeg_quality = {jpeg_quality}: must be in [1, 100]")
        self.path = Path(path)
        try:
            self._stream: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise RecordError(f"cannot create flight record {self.path}: {exc.strerror or exc}") from None
        self._writer = Writer(self._stream, chunk_size=chunk_size_bytes, compression=_compression(compress))
        self._writer.start(profile="", library="drone-perception flight recorder")
        self._lock = threading.Lock()
        self._channels: dict[str, int] = {}
        self._sequence: dict[str, int] = {}
        self._declared = {str(k): dict(v) for k, v in (schemas or {}).items()}
        self._max_chunk_age_s = float(max_chunk_age_s)
        self._camera_period_s = 0.0 if camera_max_rate_hz is None else 1.0 / camera_max_rate_hz
        self._last_camera_s = -np.inf
        self._jpeg_quality = int(jpeg_quality)
        self._clock_ns = clock_ns
        self._monotonic_s = monotonic_s
        self._last_flush_s = monotonic_s()
        self._closed = False
        #: Messages written per topic, and camera frames skipped by the rate limit.
        self.counts: dict[str, int] = {}
        self.camera_frames_skipped = 0
        #: Largest finite ``stamp_s`` recorded so far (None before the first message).
        self.last_stamp_s: float | None = None

    # ------------------------------------------------------------------ Recorder protocol
    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        """Append ``message`` (a value type from :mod:`drone_perception.types` or a JSON-compatible
        dict) on ``topic`` at stack time ``stamp_s`` (monotonic seconds). A :class:`Frame` on
        :data:`topics.CAMERA` is JPEG-encoded as a ``foxglove.CompressedImage``.

        Raises :class:`RecordClosedError` after :meth:`close`, :class:`RecordError` when the message
        cannot be serialised to JSON or the file cannot be written.
        """
        if topic == topics.CAMERA and isinstance(message, (Frame, np.ndarray)):
            payload = self._camera_payload(stamp_s, message)
            if payload is None:
                return
        else:
            payload = self._json_payload(stamp_s, message)
        try:
            data = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise RecordError(f"topic {topic}: message is not JSON-serialisable: {exc}") from None
        with self._lock:
            if self._closed:
                raise RecordClosedError(f"record({topic!r}) after close() of {self.path}")
            try:
                channel_id = self._channel(topic, payload)
                seq = self._sequence.get(topic, 0)
                self._sequence[topic] = seq + 1
                publish_ns = max(0, round(stamp_s * 1e9)) if np.isfinite(stamp_s) else 0
                self._writer.add_message(channel_id, log_time=self._clock_ns(), data=data,
                                         publish_time=publish_ns, sequence=seq)
                self.counts[topic] = self.counts.get(topic, 0) + 1
                if np.isfinite(stamp_s) and (self.last_stamp_s is None or stamp_s > self.last_stamp_s):
                    self.last_stamp_s = float(stamp_s)
                now = self._monotonic_s()
                if now - self._last_flush_s >= self._max_chunk_age_s:
                    self._writer.flush()  # closes the chunk and flushes the file
                    self._last_flush_s = now
            except OSError as exc:
                raise RecordError(f"writing {self.path} failed: {exc.strerror or exc}") from None

    def flush(self) -> None:
        """Close the open chunk and flush the file now (the record so far survives a crash)."""
        with self._lock:
            if not self._closed:
                self._writer.flush()
                self._last_flush_s = self._monotonic_s()

    def close(self) -> None:
        """Write the MCAP summary and footer and close the file. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._writer.finish()
            finally:
                self._stream.close()
        log.info("flight record %s closed: %d messages", self.path, sum(self.counts.values()))

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FlightRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _json_payload(self, stamp_s: float, message: Any) -> dict[str, Any]:
        body = to_jsonable(message)
        payload: dict[str, Any] = dict(body) if isinstance(body, dict) else {"value": body}
        stamp = float(stamp_s)
        own = payload.get("stamp_s")
        if own is None:
            payload["stamp_s"] = stamp
        elif own != stamp:
            payload[RECORD_STAMP_KEY] = stamp
        return payload

    def _camera_payload(self, stamp_s: float, message: Frame | np.ndarray) -> dict[str, Any] | None:
        import cv2

        if stamp_s - self._last_camera_s < self._camera_period_s:
            self.camera_frames_skipped += 1
            return None
        image = message.image if isinstance(message, Frame) else message
        ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), self._jpeg_quality])
        if not ok:
            raise RecordError(f"topic {topics.CAMERA}: JPEG encoding failed for image of shape {image.shape}")
        self._last_camera_s = stamp_s
        sec = int(max(0.0, stamp_s))
        return {
            "timestamp": {"sec": sec, "nsec": round((max(0.0, stamp_s) - sec) * 1e9) % 1_000_000_000},
            "frame_id": "camera_optical",
            "format": "jpeg",
            "data": base64.b64encode(buf.tobytes()).decode("ascii"),
            "stamp_s": float(stamp_s),
        }

    def _channel(self, topic: str, payload: dict[str, Any]) -> int:
        channel_id = self._channels.get(topic)
        if channel_id is not None:
            return channel_id
        if topic in self._declared:
            name, schema = topic, self._declared[topic]
        elif topic == topics.CAMERA:
            name, schema = COMPRESSED_IMAGE_SCHEMA_NAME, COMPRESSED_IMAGE_SCHEMA
        else:
            name, schema = topic, infer_schema(payload, title=topic)
        schema_id = self._writer.register_schema(
            name=name, encoding=SchemaEncoding.JSONSchema, data=json.dumps(schema).encode("utf-8")
        )
        channel_id = self._writer.register_channel(
            topic=topic, message_encoding=MessageEncoding.JSON, schema_id=schema_id
        )
        self._channels[topic] = channel_id
        return channel_id


__all__ = ["RECORD_STAMP_KEY", "FlightRecorder"]
