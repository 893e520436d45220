"""MAVLink 2 signing: key file format; signed commands accepted, unsigned refused."""

from __future__ import annotations

import os

import pytest
from fb_peers import link_config, mav2, pump

from firmware_bridge.errors import LinkTimeout, SigningError
from firmware_bridge.signing import load_key, parse_key, refused_count

KEY = bytes(range(32))


@pytest.mark.parametrize(("content", "expected"), [
    (KEY, KEY),
    (KEY.hex().encode(), KEY),
    (b"  " + KEY.hex().upper().encode() + b"\n", KEY),
    (KEY[:31], SigningError),
    (b"zz" * 32, SigningError),
    (b"", SigningError),
])
def test_parse_key(content, expected) -> None:
    if expected is SigningError:
        with pytest.raises(SigningError):
            parse_key(content)
    else:
        assert parse_key(content) == expected


def test_missing_key_file(tmp_path) -> None:
    with pytest.raises(SigningError, match="cannot read"):
        load_key(tmp_path / "nope.key")


@pytest.fixture
def key_file(tmp_path):
    p = tmp_path / "mavlink.key"
    p.write_bytes(KEY)
    os.chmod(p, 0o600)
    return str(p)


class Handler:
    def __init__(self) -> None:
        self.calls = 0

    def on_track_point(self, u: float, v: float) -> tuple[bool, str]:
        self.calls += 1
        return True, "locked"

    def on_track_rectangle(self, *a: float) -> tuple[bool, str]:
        self.calls += 1
        return True, "locked"

    def on_stop_tracking(self) -> tuple[bool, str]:
        self.calls += 1
        return True, "released"


@pytest.mark.parametrize(("gcs_signs", "accepted"), [(True, True), (False, False)])
def test_signed_commands_accepted_unsigned_refused(rig, gcs_factory, key_file, gcs_signs, accepted) -> None:
    handler = Handler()
    bridge, ap = rig(config=link_config(signing_key_file=key_file), handler=handler,
                     peer={"signing_key": KEY})
    gcs = gcs_factory(bridge, signing_key=KEY if gcs_signs else None)
    gcs.heartbeat()
    pump(bridge, 0.05)
    before = refused_count(bridge.link.conn)
    gcs.command(mav2.MAV_CMD_CAMERA_TRACK_POINT, 0.5, 0.5)
    pump(bridge, 0.15)
    assert handler.calls == (1 if accepted else 0)
    acks = gcs.recv({"COMMAND_ACK"}, timeout_s=0.2)
    if accepted:
        assert [a.result for a in acks] == [mav2.MAV_RESULT_ACCEPTED]
        assert acks[0]._signed  # the bridge signs what it sends
    else:
        assert acks == []
        assert refused_count(bridge.link.conn) > before
    # the signed autopilot telemetry kept flowing either way
    assert bridge.vehicle_state(bridge.link.now()).link_ok
    assert ap.of_type("HEARTBEAT")[-1]._signed


def test_unsigned_autopilot_is_not_heard(rig, key_file) -> None:
    with pytest.raises(LinkTimeout):
        # the peer does not sign: its heartbeats are refused, so the autopilot is never identified
        rig(config=link_config(signing_key_file=key_file), connect_timeout_s=0.5)
