"""read_record survives what a crash, a bad disk or a wrong file leaves behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcap.reader import make_reader

from drone_perception.record import topics
from drone_perception.record.errors import RecordError
from drone_perception.record.mcap_recorder import FlightRecorder
from drone_perception.record.reader import read_record
from drone_perception.types import VehicleState


def _write(path, steps=300, chunk=2048):
    with FlightRecorder(path, chunk_size_bytes=chunk) as rec:
        rec.record(topics.META, 0.0, {"link": "sim"})
        for i in range(steps):
            t = i * 0.05
            rec.record(topics.VEHICLE, t, VehicleState(np.array([i, 0.0, -5]), np.zeros(3), np.zeros(3), True,
                                                       "GUIDED", True, t))
            rec.record(topics.OPERATOR, t, {"engaged": True, "deadman_ok": True, "subject_track_id": 1})
    return read_record(path)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "good.mcap"
    return path, _write(path)


@settings(max_examples=25, deadline=None)
@given(frac=st.floats(0.0, 0.999))
def test_truncated_file_gives_a_prefix_and_a_problem(good, tmp_path_factory, frac):
    path, full = good
    data = path.read_bytes()
    cut = tmp_path_factory.mktemp("cut") / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * frac)])
    log = read_record(cut)
    assert not log.complete
    assert log.problems, "a truncated record must report a problem"
    for topic, msgs in log.messages.items():
        assert msgs == full.get(topic)[: len(msgs)]  # an exact prefix, nothing invented


def test_truncation_late_in_the_file_keeps_most_messages(good, tmp_path):
    path, full = good
    data = path.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    log = read_record(cut)
    assert len(log.get(topics.VEHICLE)) > 0.6 * len(full.get(topics.VEHICLE))
    assert any("truncated" in p for p in log.problems)


def test_corrupt_chunk_in_the_middle_is_skipped_and_reading_goes_on(good, tmp_path):
    path, full = good
    data = bytearray(path.read_bytes())
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None and len(summary.chunk_indexes) >= 3
    chunk = summary.chunk_indexes[len(summary.chunk_indexes) // 2]
    mid = chunk.chunk_start_offset + chunk.chunk_length - 100
    data[mid : mid + 64] = bytes(64)  # a bad sector inside one chunk's compressed data
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(bytes(data))
    log = read_record(bad)
    assert any("corrupt chunk" in p for p in log.problems)
    n_full = len(full.get(topics.VEHICLE))
    assert 0 < len(log.get(topics.VEHICLE)) < n_full
    assert log.get(topics.VEHICLE)[-1] == full.get(topics.VEHICLE)[-1]  # chunks after the bad one survive


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty"), (b"this is not an mcap file at all, just text\n" * 3, "not an MCAP file")],
    ids=["empty", "not-mcap"],
)
def test_empty_or_foreign_file_reads_as_nothing_with_a_clear_problem(tmp_path, content, problem):
    path = tmp_path / "x.mcap"
    path.write_bytes(content)
    log = read_record(path)
    assert not log.readable and not log.complete
    assert any(problem in p for p in log.problems)


def test_missing_file_raises(tmp_path):
    with pytest.raises(RecordError, match="cannot open"):
        read_record(tmp_path / "nope.mcap")


def test_killed_process_leaves_a_readable_prefix(tmp_path):
    path = tmp_path / "crash.mcap"
    script = textwrap.dedent(
        f"""
        import os
        from drone_perception.record.mcap_recorder import FlightRecorder
        rec = FlightRecorder({str(path)!r}, max_chunk_age_s=0.01)
        for i in range(400):
            rec.record("/operator/input", i * 0.05, {{"engaged": True, "i": i}})
            if i % 50 == 0:
                rec.flush()
        os._exit(3)  # die without close(): no footer, nothing flushed after the last chunk
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    log = read_record(path)
    assert not log.complete and log.problems
    got = [m["i"] for _, m in log.get(topics.OPERATOR)]
    assert len(got) >= 351 and got == list(range(len(got)))
