"""The link relay of the real-SITL link-drop test: it forwards both ways, and while cut it drops everything both
ways without closing either connection; after the cut it forwards again and nothing from the cut arrives late."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from sim.runners.link_relay import LinkRelay


def _recv_for(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(0.05)
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            break
        got += chunk
    return got


@pytest.fixture()
def upstream() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def test_cut_drops_both_ways_keeps_the_connection_and_restores(upstream: socket.socket) -> None:
    accepted: list[socket.socket] = []
    t = threading.Thread(target=lambda: accepted.append(upstream.accept()[0]), daemon=True)
    t.start()
    with LinkRelay(upstream.getsockname()[:2]) as relay:
        client = socket.create_connection(("127.0.0.1", relay.port), timeout=2.0)
        t.join(timeout=5.0)
        (far,) = accepted
        client.sendall(b"up-1")
        far.sendall(b"down-1")
        assert _recv_for(far, 0.3) == b"up-1" and _recv_for(client, 0.3) == b"down-1"

        relay.set_cut(True)
        client.sendall(b"up-lost")
        far.sendall(b"down-lost")
        assert _recv_for(far, 0.3) == b"" and _recv_for(client, 0.3) == b""  # silence, not a closed socket
        relay.set_cut(False)
        client.sendall(b"up-2")
        far.sendall(b"down-2")
        assert _recv_for(far, 0.3) == b"up-2" and _recv_for(client, 0.3) == b"down-2"  # nothing stale
        assert relay.dropped_bytes == {"to_upstream": len(b"up-lost"), "to_client": len(b"down-lost")}
        assert [cut for _, cut in relay.changes] == [True, False]
        client.close()
        far.close()


def test_a_bad_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="upstream_wait_s"):
        LinkRelay(("127.0.0.1", 9), upstream_wait_s=-1.0)


def test_sitl_faults_cut_the_link_for_its_window_of_world_time() -> None:
    from sim.runners.sitl import SitlFaults

    calls: list[bool] = []
    switch = SitlFaults(link_cut_s=(8.0, 13.0), cut_link=calls.append).link_switch()
    for t in (7.95, 8.0, 8.05, 12.95, 13.0, 13.05, 20.0):
        switch(t)
    assert calls == [True, False]  # once each way, at the first periods at or past each end


@pytest.mark.parametrize(("window", "cut", "match"), [
    ((8.0, 8.0), print, "start < end"),
    ((-1.0, 3.0), print, "start < end"),
    ((8.0, 13.0), None, "needs cut_link"),
])
def test_sitl_faults_refuse_a_bad_link_cut(window: tuple[float, float], cut: object, match: str) -> None:
    from sim.runners.sitl import SitlFaults

    with pytest.raises(ValueError, match=match):
        SitlFaults(link_cut_s=window, cut_link=cut)  # type: ignore[arg-type]
