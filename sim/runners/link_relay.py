"""A loopback TCP relay between the stack's bridge and an autopilot's TCP MAVLink port (SITL ``tcp:5760``/``5762``)
that can cut the link: the radio-link drop of the lock-step loop's faults, against a real autopilot.

While cut, the relay keeps both sockets open and keeps reading from both, but forwards nothing: every byte is
dropped, as a radio out of range loses packets (neither end sees a closed connection; each only stops hearing the
other). When the link returns, forwarding resumes mid-stream; MAVLink parsers resynchronise on the next frame
start, as they do after radio noise. Nothing is buffered, so nothing stale arrives late.

Stdlib only, one thread per direction; for tests and simulation, never in the flight path.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time

log = logging.getLogger(__name__)

#: How often (s) the pump threads look at ``close()``.
POLL_S = 0.05


class LinkRelay:
    """Listens on ``listen`` (host, port; port 0 picks a free one: :attr:`port`) and, for each client it accepts
    (one at a time, as an autopilot's TCP port serves one), connects to ``upstream`` (host, port), retrying for
    up to ``upstream_wait_s`` (the autopilot may start after the client), then relays both ways.

    :meth:`set_cut` cuts (True) or restores (False) the link; :attr:`changes` lists each change as
    ``(time.monotonic() s, cut)``; :attr:`dropped_bytes` counts what was dropped (``to_upstream``,
    ``to_client``)."""

    def __init__(self, upstream: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0), *,
                 upstream_wait_s: float = 30.0) -> None:
        if upstream_wait_s < 0:
            raise ValueError(f"upstream_wait_s: must be >= 0, got {upstream_wait_s}")
        self.upstream = upstream
        self.upstream_wait_s = upstream_wait_s
        self._server = socket.create_server(listen)
        self._server.settimeout(POLL_S)
        self.port: int = int(self._server.getsockname()[1])
        self._cut = False
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.changes: list[tuple[float, bool]] = []
        self.dropped_bytes = {"to_upstream": 0, "to_client": 0}
        self.forwarded_bytes = {"to_upstream": 0, "to_client": 0}
        self._threads = [threading.Thread(target=self._serve, name="link-relay", daemon=True)]
        self._threads[0].start()

    @property
    def cut(self) -> bool:
        return self._cut

    def set_cut(self, cut: bool) -> None:
        """Cut (True) or restore (False) the link now; a repeated state is ignored."""
        with self._lock:
            if cut == self._cut:
                return
            self._cut = cut
            self.changes.append((time.monotonic(), cut))
        log.info("link relay: link %s", "cut" if cut else "restored")

    def close(self) -> None:
        self._closed.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._server.close()

    def __enter__(self) -> LinkRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ threads
    def _connect_upstream(self) -> socket.socket | None:
        deadline = time.monotonic() + self.upstream_wait_s
        while not self._closed.is_set():
            try:
                return socket.create_connection(self.upstream, timeout=1.0)
            except OSError as exc:
                if time.monotonic() >= deadline:
                    log.warning("link relay: upstream %s:%d not reachable: %s", *self.upstream, exc)
                    return None
                time.sleep(0.2)
        return None

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = self._connect_upstream()
            if upstream is None:
                client.close()
                continue
            pair = (client, upstream)
            pumps = [threading.Thread(target=self._pump, args=(client, upstream, "to_upstream", pair), daemon=True),
                     threading.Thread(target=self._pump, args=(upstream, client, "to_client", pair), daemon=True)]
            for p in pumps:
                p.start()
            for p in pumps:  # one client at a time
                p.join()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str,
              pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([src], [], [], POLL_S)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if self._cut:
                    self.dropped_bytes[direction] += len(data)
                    continue
                dst.sendall(data)
                self.forwarded_bytes[direction] += len(data)
        except OSError as exc:
            log.debug("link relay %s: %s", direction, exc)
        finally:  # either end closing ends the pair (the other pump sees the closed socket)
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            src.close()


__all__ = ["LinkRelay"]
