"""UDP transport for the simulated MAVLink vehicle and the scripted ground station.

One non-blocking UDP socket, MAVLink 2 (``ardupilotmega`` dialect) framing with pymavlink, optional MAVLink 2
signing, and a set of peers: every address that sent a datagram recently (``udpin``) plus, for ``udpout``, the
fixed remote address. No threads; the caller polls with :meth:`MavUdpEndpoint.receive`.

Connection strings (as in pymavlink/MAVProxy):

- ``udpin:HOST:PORT``: bind HOST:PORT and talk to whoever sends to it (port 0 picks a free port, see
  :attr:`MavUdpEndpoint.local_address`). ``udp:`` is a synonym.
- ``udpout:HOST:PORT``: bind an ephemeral local port and send to HOST:PORT.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import DronePerceptionError, InvalidValueError

log = logging.getLogger(__name__)

#: Seconds between the Unix epoch and the MAVLink signing epoch (2015-01-01T00:00:00Z).
_SIGNING_EPOCH_UNIX_S = 1420070400
_MAX_DATAGRAM_BYTES = 65535

Address = tuple[str, int]


class SimLinkError(DronePerceptionError):
    """The simulated MAVLink link cannot be set up (bad URL, port in use, bad signing key)."""


class SimTimeout(DronePerceptionError, TimeoutError):
    """A blocking call of the simulator tools (e.g. the scripted ground station) ran past its ``timeout_s``."""


class SimCommandRejected(DronePerceptionError):
    """The vehicle answered a command with something other than MAV_RESULT_ACCEPTED."""


@dataclass(frozen=True)
class LinkUrl:
    """A parsed connection string: ``kind`` is ``"udpin"`` (bind) or ``"udpout"`` (send to)."""

    kind: str
    host: str
    port: int


def parse_link_url(url: str) -> LinkUrl:
    """Parse ``udpin:HOST:PORT`` / ``udp:HOST:PORT`` / ``udpout:HOST:PORT``; raise :class:`SimLinkError`."""
    parts = url.strip().split(":")
    if len(parts) != 3 or parts[0] not in ("udpin", "udp", "udpout"):
        raise SimLinkError(f"link URL {url!r}: expected udpin:HOST:PORT or udpout:HOST:PORT")
    kind = "udpout" if parts[0] == "udpout" else "udpin"
    try:
        port = int(parts[2])
    except ValueError:
        raise SimLinkError(f"link URL {url!r}: port {parts[2]!r} is not an integer") from None
    if not 0 <= port <= 65535 or (kind == "udpout" and port == 0):
        raise SimLinkError(f"link URL {url!r}: port {port} outside [1, 65535]")
    return LinkUrl(kind=kind, host=parts[1] or "127.0.0.1", port=port)


def load_signing_key(path: str | Path) -> bytes:
    """Read a 32-byte MAVLink 2 signing key from ``path``.

    Accepted contents: 32 raw bytes, 64 hex digits, or a passphrase (any other text), which becomes
    ``sha256(passphrase)`` exactly as MAVProxy's ``signing setup PASSPHRASE`` does.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SimLinkError(f"signing key file {str(p)!r}: {exc.strerror}") from exc
    return signing_key_from_bytes(data, source=str(p))


def signing_key_from_bytes(data: bytes, *, source: str = "key") -> bytes:
    """Interpret key material as in :func:`load_signing_key`."""
    if len(data) == 32:
        return data
    text = data.decode("utf-8", errors="strict").strip() if data else ""
    if not text:
        raise SimLinkError(f"signing key {source}: empty")
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return hashlib.sha256(text.encode("utf-8")).digest()


def new_mavlink(system_id: int, component_id: int, signing_key: bytes | None) -> Any:
    """A pymavlink MAVLink 2 codec (robust parsing, signing when ``signing_key`` is given).

    With a key, outgoing messages are signed and unsigned incoming ones are refused (they decode as
    ``BAD_DATA`` with reason ``Invalid signature``). The signing timestamp starts at the wall clock, as the
    protocol requires (a receiver refuses a new stream more than a minute older than its own clock).
    """
    if not 1 <= system_id <= 255 or not 0 <= component_id <= 255:
        raise InvalidValueError(f"system_id {system_id} / component_id {component_id} outside [1,255]/[0,255]")
    mav = mavlink2.MAVLink(_Capture(), srcSystem=system_id, srcComponent=component_id)
    mav.robust_parsing = True
    if signing_key is not None:
        if len(signing_key) != 32:
            raise SimLinkError(f"signing key length {len(signing_key)} bytes, expected 32")
        mav.signing.secret_key = signing_key
        mav.signing.sign_outgoing = True
        mav.signing.link_id = 0
        mav.signing.timestamp = int((time.time() - _SIGNING_EPOCH_UNIX_S) * 1e5)
    return mav


class _Capture:
    """File-like sink so ``MAVLink.send`` (which keeps seq and signing state) gives us the bytes."""

    def __init__(self) -> None:
        self.last = b""

    def write(self, buf: bytes) -> None:
        self.last = bytes(buf)


class MavUdpEndpoint:
    """A non-blocking MAVLink 2 UDP endpoint with per-peer parsers.

    ``peer_timeout_s``: a peer that has not sent anything for this long (seconds, caller's clock passed to
    :meth:`receive`) stops receiving our messages; the ``udpout`` remote never expires.
    """

    def __init__(
        self, url: str, *, system_id: int, component_id: int, signing_key: bytes | None = None,
        peer_timeout_s: float = 10.0,
    ) -> None:
        self.url = parse_link_url(url)
        self._signing_key = signing_key
        self._mav = new_mavlink(system_id, component_id, signing_key)
        self._parsers: dict[Address, Any] = {}
        self._last_heard_s: dict[Address, float] = {}
        self._fixed_peer: Address | None = None
        self.peer_timeout_s = float(peer_timeout_s)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if self.url.kind == "udpin":
                sock.bind((self.url.host, self.url.port))
            else:
                sock.bind(("0.0.0.0", 0))
                self._fixed_peer = (socket.gethostbyname(self.url.host), self.url.port)
        except OSError as exc:
            sock.close()
            why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise SimLinkError(f"cannot open {url!r}: {why}") from exc
        sock.setblocking(False)
        self._sock = sock

    @property
    def local_address(self) -> Address:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def mav(self) -> Any:
        """The sending codec (pymavlink ``MAVLink``); use its ``*_encode`` methods to build messages."""
        return self._mav

    def fileno(self) -> int:
        return self._sock.fileno()

    def peers(self, now_s: float) -> list[Address]:
        """Addresses that currently receive what we send."""
        out = [a for a, t in self._last_heard_s.items() if now_s - t <= self.peer_timeout_s]
        if self._fixed_peer is not None and self._fixed_peer not in out:
            out.insert(0, self._fixed_peer)
        return out

    def receive_datagrams(self, now_s: float) -> list[tuple[Address, bytes]]:
        """Drain the socket without blocking; note each sender as a live peer at ``now_s``."""
        out: list[tuple[Address, bytes]] = []
        while True:
            try:
                data, addr = self._sock.recvfrom(_MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return out
            except ConnectionRefusedError:
                continue  # ICMP port-unreachable from a peer that went away
            a = (str(addr[0]), int(addr[1]))
            self._last_heard_s[a] = now_s
            out.append((a, data))

    def decode(self, addr: Address, data: bytes) -> list[Any]:
        """Decode one datagram from ``addr`` (per-peer parser state); ``BAD_DATA`` messages included."""
        parser = self._parsers.get(addr)
        if parser is None:
            parser = new_mavlink(1, 0, self._signing_key)
            self._parsers[addr] = parser
        msgs = parser.parse_buffer(data)
        return list(msgs) if msgs else []

    def pack(self, msg: Any) -> bytes:
        """Serialize (and sign) ``msg`` with our system/component id and next sequence number."""
        self._mav.send(msg)
        return bytes(self._mav.file.last)

    def send_bytes(self, data: bytes, addr: Address) -> None:
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, ConnectionRefusedError, InterruptedError):
            log.debug("datagram to %s dropped by the OS", addr)

    def close(self) -> None:
        self._sock.close()
