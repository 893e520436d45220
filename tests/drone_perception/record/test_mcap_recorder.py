"""FlightRecorder writes MCAP that Foxglove can open and that reads back exactly."""

from __future__ import annotations

import base64
import json
import math

import cv2
import numpy as np
import pytest
from mcap.reader import make_reader

from drone_perception.record import topics
from drone_perception.record.errors import RecordClosedError, RecordError
from drone_perception.record.mcap_recorder import RECORD_STAMP_KEY, FlightRecorder
from drone_perception.record.reader import read_record
from drone_perception.types import (
    CameraIntrinsics,
    CameraModel,
    Detections,
    Frame,
    People,
    SafeCommand,
    TargetEstimate,
    Tracks,
    VehicleState,
    VelocityCommand,
    Verdict,
    to_jsonable,
)


def _camera() -> CameraModel:
    return CameraModel.from_gimbal(CameraIntrinsics.from_hfov(1.2, (64, 48)), [0, 0, -5], 0.0, -0.3)


MESSAGES = [
    (topics.VEHICLE, VehicleState(np.array([1.0, 2.0, -5.0]), np.array([0.5, 0, 0]), np.zeros(3), True,
                                  "guided", True, 3.0)),
    (topics.DETECTIONS, Detections(np.array([[1, 2, 30, 40]]), np.array([0.9]), np.array([0]), 3.0)),
    (topics.TRACKS, Tracks.empty(3.0)),
    (topics.PEOPLE, People(np.array([[20.0, 0, 0]]), np.zeros((1, 3)), np.array([0.5]), np.array([2.9]),
                           np.array([True]), 3.0)),
    (topics.SUBJECT, TargetEstimate.invalid(3.0)),  # NaN fields become null
    (topics.SAFE, SafeCommand(VelocityCommand(np.array([1.0, 0, 0]), 0.1, 3.0), Verdict.LIMITED,
                              frozenset({"speed", "standoff"}), 3.2)),
    (topics.MAVLINK_OUT, {"msg_type": "HEARTBEAT", "command": None, "fields": {"type": 18}}),
    (topics.META, {"link": "sim", "x": float("nan")}),
]


@pytest.mark.parametrize(("topic", "message"), MESSAGES, ids=[t for t, _ in MESSAGES])
def test_round_trip_equals_to_jsonable(tmp_path, topic, message):
    path = tmp_path / "r.mcap"
    with FlightRecorder(path) as rec:
        rec.record(topic, 3.0, message)
    log = read_record(path)
    assert log.complete and log.problems == ()
    [(stamp, payload)] = log.get(topic)
    assert stamp == 3.0
    expected = to_jsonable(message)
    expected.setdefault("stamp_s", 3.0)
    assert payload == expected


def test_own_stamp_is_kept_and_record_stamp_added_when_they_differ(tmp_path):
    path = tmp_path / "r.mcap"
    with FlightRecorder(path) as rec:
        rec.record(topics.DETECTIONS, 5.0, Detections.empty(4.9))
    [(stamp, payload)] = read_record(path).get(topics.DETECTIONS)
    assert stamp == 5.0 and payload["stamp_s"] == 4.9 and payload[RECORD_STAMP_KEY] == 5.0


def test_file_is_foxglove_compatible_json_with_jsonschema(tmp_path):
    path = tmp_path / "r.mcap"
    with FlightRecorder(path) as rec:
        for t, m in MESSAGES:
            rec.record(t, 3.0, m)
        rec.record(topics.CAMERA, 3.0, Frame(np.zeros((48, 64, 3), np.uint8), 3.0, 0, _camera()))
    with open(path, "rb") as f:
        reader = make_reader(f)  # seeking reader: needs the summary and footer
        summary = reader.get_summary()
        assert summary is not None
        assert {c.topic for c in summary.channels.values()} == {t for t, _ in MESSAGES} | {topics.CAMERA}
        for channel in summary.channels.values():
            schema = summary.schemas[channel.schema_id]
            assert channel.message_encoding == "json"
            assert schema.encoding == "jsonschema"
            assert json.loads(schema.data)["type"] == "object"
        names = {summary.schemas[c.schema_id].name for c in summary.channels.values()}
        assert "foxglove.CompressedImage" in names
        n = sum(1 for _ in reader.iter_messages())
    assert n == len(MESSAGES) + 1


def test_camera_frames_are_jpeg_and_rate_limited(tmp_path):
    path = tmp_path / "r.mcap"
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:30, 20:40] = (0, 0, 255)
    with FlightRecorder(path, camera_max_rate_hz=2.0) as rec:
        for i in range(20):  # 1 s at 20 Hz -> 2 frames pass the 2 Hz limit
            t = i * 0.05
            rec.record(topics.CAMERA, t, Frame(image, t, i, _camera()))
        assert rec.camera_frames_skipped == 18
    frames = read_record(path, keep_camera_data=True).get(topics.CAMERA)
    assert [s for s, _ in frames] == pytest.approx([0.0, 0.5])
    payload = frames[0][1]
    assert payload["format"] == "jpeg" and payload["timestamp"] == {"sec": 0, "nsec": 0}
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(payload["data"]), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunk_size_bytes": 10}, "chunk_size_bytes"),
        ({"max_chunk_age_s": 0.0}, "max_chunk_age_s"),
        ({"camera_max_rate_hz": -1.0}, "camera_max_rate_hz"),
        ({"jpeg_quality": 0}, "jpeg_quality"),
    ],
)
def test_bad_parameters_are_named(tmp_path, kwargs, match):
    with pytest.raises(RecordError, match=match):
        FlightRecorder(tmp_path / "r.mcap", **kwargs)


def test_unwritable_path_and_misuse_raise(tmp_path):
    with pytest.raises(RecordError, match="cannot create"):
        FlightRecorder(tmp_path / "no_such_dir" / "r.mcap")
    rec = FlightRecorder(tmp_path / "r.mcap")
    with pytest.raises(RecordError, match="not JSON-serialisable"):
        rec.record(topics.META, 0.0, {"bad": object()})
    rec.close()
    rec.close()  # idempotent
    with pytest.raises(RecordClosedError):
        rec.record(topics.META, 0.0, {})


def test_chunks_are_flushed_by_age_so_the_file_grows_during_the_run(tmp_path):
    clock = {"t": 0.0}
    path = tmp_path / "r.mcap"
    rec = FlightRecorder(path, max_chunk_age_s=1.0, monotonic_s=lambda: clock["t"])
    rec.record(topics.META, 0.0, {"link": "sim"})
    size_before = path.stat().st_size
    clock["t"] = 1.5
    rec.record(topics.OPERATOR, 1.5, {"engaged": False})
    assert path.stat().st_size > size_before  # the chunk reached the disk without close()
    log = read_record(path)
    assert not log.complete and len(log.get(topics.META)) == 1
    rec.close()
    assert math.isclose(read_record(path).get(topics.OPERATOR)[0][0], 1.5)
