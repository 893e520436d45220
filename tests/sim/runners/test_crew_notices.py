"""#14 item 5: the crew is told, in the ground station (STATUSTEXT) and in the record, when follow engages, the
subject is locked, the dead-man is lost and follow disengages (and why), and a hold happens (and why)."""

from __future__ import annotations

from drone_perception.config import StackConfig
from drone_perception.record import topics
from firmware_bridge.crew_notices import INFO, NOTICE, STATUSTEXT_CHARS, WARNING
from sim.runners.crew import OperatorScript
from sim.runners.lockstep import MavlinkScenarioLoop


class ListRecorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, object]] = []

    def record(self, topic: str, stamp_s: float, message: object) -> None:
        self.rows.append((topic, stamp_s, message))

    def close(self) -> None:
        return None


def test_engage_lock_deadman_and_subject_lost_are_told_once_each() -> None:
    rec = ListRecorder()
    script = OperatorScript(deadman_lost_s=(8.0, 30.0))
    with MavlinkScenarioLoop("walk", StackConfig(), seed=0, recorder=rec, operator_script=script,
                             keep_trajectory=False) as loop:
        loop.launch()
        loop.run(12.0)
        sent = list(loop.bridge.notices.sent)
    texts = [t for _, _, t in sent]
    assert any("follow engaged" in t for t in texts), texts
    assert any("subject locked" in t for t in texts), texts
    off = [(s, t) for _, s, t in sent if "follow off" in t]
    assert len(off) == 1 and off[0][0] == WARNING and "dead-man lost" in off[0][1], off
    assert all(len(t) <= STATUSTEXT_CHARS for t in texts)
    assert {s for _, s, _ in sent} <= {INFO, NOTICE, WARNING}
    # every notice went out on the link as a STATUSTEXT and is in the record
    out = [m for topic, _, m in rec.rows if topic == topics.MAVLINK_OUT and m["msg_type"] == "STATUSTEXT"]
    recorded = [m["text"] for topic, _, m in rec.rows if topic == topics.AUTOPILOT_EVENTS
                and m.get("kind") == "crew_notice"]
    assert len(out) >= len(sent) and recorded == texts


def test_a_hold_and_its_reason_are_told_when_the_subject_is_lost() -> None:
    with MavlinkScenarioLoop("subject_lost", StackConfig(), seed=0, keep_trajectory=False,
                             operator_script=OperatorScript(redesignate_after_s=None)) as loop:
        loop.launch()
        loop.run(22.0)
        texts = [t for _, _, t in loop.bridge.notices.sent]
    assert any(t.startswith("DP: hold:") and "subject_lost" in t for t in texts), texts
    assert any("lock lost" in t for t in texts), texts
