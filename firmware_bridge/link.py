"""The MAVLink link: one pymavlink connection, one guarded send function, receive with deadlines.

Connection strings (pymavlink style): ``udpin:HOST:PORT`` (listen; port 0 picks a free port),
``udpout:HOST:PORT`` (send to), ``tcp:HOST:PORT`` (connect), ``tcpin:HOST:PORT`` (listen),
``serial:DEVICE[:BAUD]`` or a bare device path (``/dev/ttyACM0``, baud 115200 unless given).

The companion announces itself with a 1 Hz HEARTBEAT as ``MAV_TYPE_ONBOARD_CONTROLLER`` (sent from the
owner's loop via :meth:`MavlinkLink.service`; there is no background sender). Every outgoing message
goes through :meth:`MavlinkLink.send`, which checks the :class:`Allowlist` and reports the message to
the flight recorder on ``/mavlink/out``.

Link loss: the link is up while the autopilot's last HEARTBEAT is at most ``heartbeat_timeout_s`` old
and, once telemetry streams were requested (``silence_timeout_s`` set), its last message of any kind is
at most ``silence_timeout_s`` old. Ages are measured on the injected monotonic ``clock`` at receipt.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.record import topics
from firmware_bridge.allowlist import Allowlist
from firmware_bridge.errors import BridgeError, LinkTimeout

log = logging.getLogger(__name__)

MAV_TYPE_GCS = 6
MAV_TYPE_ONBOARD_CONTROLLER = 18
MAV_TYPE_GIMBAL = 26
MAV_TYPE_CAMERA = 30
MAV_AUTOPILOT_INVALID = 8
#: pymavlink parser state after a reset (HEADER_LEN_V1 + 2, as MAVLink.__init__ sets it).
_MAVLINK_V1_HEADER_LEN = 6
_NOT_AUTOPILOT_TYPES = frozenset({MAV_TYPE_GCS, MAV_TYPE_ONBOARD_CONTROLLER, MAV_TYPE_GIMBAL, MAV_TYPE_CAMERA})

MessageHandler = Callable[[Any, float], None]


def _mavutil() -> Any:
    """pymavlink's mavutil with the MAVLink 2 ardupilotmega dialect selected.

    pymavlink picks its wire protocol from the MAVLINK20 environment variable at import/dialect time;
    signing and message extensions need MAVLink 2, so select it explicitly here (not at import).
    """
    os.environ["MAVLINK20"] = "1"
    from pymavlink import mavutil

    if not mavutil.mavlink.__name__.startswith("pymavlink.dialects.v20.ardupilotmega"):
        mavutil.set_dialect("ardupilotmega")
    return mavutil


def _check_udp_port_free(host: str, port: int) -> None:
    """pymavlink binds with SO_REUSEADDR, which on Linux silently shares a busy UDP port: probe first."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise BridgeError(f"connection udpin:{host}:{port}: cannot listen: {reason}") from None
    finally:
        probe.close()


def parse_connection(connection: str) -> tuple[str, dict[str, Any]]:
    """Split a connection string into (pymavlink device, extra kwargs); raise BridgeError if malformed."""
    scheme, _, rest = connection.partition(":")
    if scheme in ("udpin", "udpout", "tcp", "tcpin"):
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise BridgeError(f"connection {connection!r}: expected {scheme}:HOST:PORT with PORT in [0, 65535]")
        if scheme == "udpin":
            _check_udp_port_free(host, int(port))
        elif int(port) == 0:
            raise BridgeError(f"connection {connection!r}: port 0 is only valid for udpin")
        return connection, {}
    if scheme == "serial" or connection.startswith("/dev/") or connection.upper().startswith("COM"):
        device = rest if scheme == "serial" else connection
        baud = 115200
        dev, _, maybe_baud = device.rpartition(":")
        if dev and maybe_baud.isdigit():
            device, baud = dev, int(maybe_baud)
        if not device:
            raise BridgeError(f"connection {connection!r}: expected serial:DEVICE[:BAUD]")
        return device, {"baud": baud}
    raise BridgeError(f"connection {connection!r}: unknown scheme {scheme!r}; use udpin:, udpout:, tcp:, "
                      "tcpin: or serial:")


class MavlinkLink:
    """A MAVLink 2 connection to one autopilot, with deadlines on every blocking call.

    Build it with :meth:`open`. Not a thread: the owner calls :meth:`receive` / :meth:`service` from its
    loop. :meth:`send` is thread-safe so a hold-only watchdog thread may use it.
    """

    def __init__(self, conn: Any, *, allowlist: Allowlist, recorder: Recorder | None = None,
                 clock: Callable[[], float] = time.monotonic, heartbeat_timeout_s: float = 1.0,
                 connection: str = "") -> None:
        if not (math.isfinite(heartbeat_timeout_s) and heartbeat_timeout_s > 0):
            raise BridgeError(f"heartbeat_timeout_s: must be > 0, got {heartbeat_timeout_s}")
        self._conn = conn
        self._conn.mav.robust_parsing = True
        self._allowlist = allowlist
        self._recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self._clock = clock
        self._lock = threading.Lock()
        self._handlers: list[MessageHandler] = []
        self.connection = connection
        self.heartbeat_timeout_s = float(heartbeat_timeout_s)
        #: Set once telemetry streams are expected (after message-interval requests); None = off.
        self.silence_timeout_s: float | None = None
        self.target_system: int | None = None
        self.target_component: int | None = None
        self.autopilot_type: int | None = None
        self.last_heartbeat_s = -math.inf
        self.last_message_s = -math.inf
        self._next_heartbeat_s = -math.inf
        self._t0_s = clock()
        self.sent_count = 0
        self.malformed_count = 0
        #: A datagram link (UDP): frames never span datagrams, so a partial one is dropped at the boundary.
        self._datagrams = type(conn).__name__ in ("mavudp", "mavmcast")

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(cls, connection: str, *, allowlist: Allowlist, source_system: int = 1, source_component: int = 191,
             recorder: Recorder | None = None, clock: Callable[[], float] = time.monotonic,
             heartbeat_timeout_s: float = 1.0) -> MavlinkLink:
        """Open ``connection``; a busy port, a refused TCP connect or a bad string raises BridgeError."""
        device, extra = parse_connection(connection)
        mavutil = _mavutil()
        try:
            conn = mavutil.mavlink_connection(device, source_system=source_system,
                                              source_component=source_component, autoreconnect=False,
                                              retries=0, reconnect_delay=0.2, **extra)
        except (OSError, ValueError) as exc:
            raise BridgeError(f"connection {connection!r}: cannot open: {exc}") from None
        except Exception as exc:  # pymavlink raises bare Exception/serial errors for some failures
            raise BridgeError(f"connection {connection!r}: cannot open: {type(exc).__name__}: {exc}") from None
        return cls(conn, allowlist=allowlist, recorder=recorder, clock=clock,
                   heartbeat_timeout_s=heartbeat_timeout_s, connection=connection)

    @property
    def conn(self) -> Any:
        """The underlying pymavlink connection (for signing set-up and encoders)."""
        return self._conn

    @property
    def mav(self) -> Any:
        return self._conn.mav

    @property
    def local_address(self) -> tuple[str, int] | None:
        port = getattr(self._conn, "port", None)
        if isinstance(port, socket.socket):
            host, p = port.getsockname()[:2]
            return str(host), int(p)
        return None

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except OSError as exc:
                log.debug("close: %s", exc)

    def add_handler(self, handler: MessageHandler) -> None:
        """``handler(msg, stamp_s)`` is called for every valid incoming message, in receive order."""
        self._handlers.append(handler)

    # ------------------------------------------------------------------ sending
    def now(self) -> float:
        """The link's monotonic clock (seconds), the one receive stamps are taken on."""
        return self._clock()

    def boot_ms(self, now_s: float) -> int:
        return max(0, int((now_s - self._t0_s) * 1000.0)) & 0xFFFFFFFF

    def send(self, msg: Any, now_s: float, *, component: int | None = None) -> None:
        """Check ``msg`` against the allowlist, write it once, report it on ``/mavlink/out``.

        ``component``: send as another component id of this system (the camera component).
        """
        self._allowlist.check(msg)
        with self._lock:
            mav = self._conn.mav
            own = mav.srcComponent
            if component is not None:
                mav.srcComponent = component
            try:
                mav.send(msg)
            except OSError as exc:
                raise BridgeError(f"send {msg.get_type()} on {self.connection}: {exc}") from None
            finally:
                mav.srcComponent = own
            self.sent_count += 1
        fields = {k: _plain(getattr(msg, k)) for k in msg.get_fieldnames()}
        self._recorder.record(topics.MAVLINK_OUT, now_s, {
            "msg_type": msg.get_type(), "command": fields.get("command"), "fields": fields, "stamp_s": now_s})

    def send_heartbeat(self, now_s: float) -> None:
        """Announce the companion (MAV_TYPE_ONBOARD_CONTROLLER, no autopilot, state ACTIVE)."""
        mav = self._conn.mav
        self.send(mav.heartbeat_encode(MAV_TYPE_ONBOARD_CONTROLLER, MAV_AUTOPILOT_INVALID, 0, 0, 4), now_s)

    def service(self, now_s: float, period_s: float = 1.0, *, force: bool = False) -> bool:
        """Send the companion heartbeat if one is due (or ``force``); returns True when it sent one."""
        if now_s < self._next_heartbeat_s and not force:
            return False
        self.send_heartbeat(now_s)
        self._next_heartbeat_s = now_s + period_s
        return True

    def command_long(self, command: int, params: tuple[float, ...], now_s: float) -> None:
        """Send COMMAND_LONG ``command`` to the autopilot (up to 7 params, zero-padded)."""
        p = tuple(float(x) for x in params) + (0.0,) * (7 - len(params))
        self.send(self._conn.mav.command_long_encode(self.target_system or 1, self.target_component or 1,
                                                     command, 0, *p), now_s)

    def request_message_interval(self, msg_id: int, rate_hz: float, now_s: float) -> None:
        """Ask the autopilot to stream ``msg_id`` at ``rate_hz`` (MAV_CMD_SET_MESSAGE_INTERVAL)."""
        if not (math.isfinite(rate_hz) and 0.0 < rate_hz <= 1000.0):
            raise BridgeError(f"rate_hz: must be in (0, 1000], got {rate_hz}")
        self.command_long(511, (msg_id, 1e6 / rate_hz), now_s)

    # ------------------------------------------------------------------ receiving
    def _read_one(self) -> Any | None:
        try:
            if self._datagrams:
                msg = self._drain_datagram()
                if msg is not None:
                    return msg
            return self._conn.recv_msg()
        except OSError as exc:
            raise BridgeError(f"receive on {self.connection}: {exc}") from None
        except Exception as exc:  # malformed input must never crash the loop
            self.malformed_count += 1
            log.warning("dropped undecodable input on %s: %s: %s", self.connection, type(exc).__name__, exc)
            return None

    def _drain_datagram(self) -> Any | None:
        """UDP: return a whole message still buffered from the last datagram; drop a partial frame left there
        (a datagram never continues in the next one; kept, it would swallow the next good messages)."""
        mav = self._conn.mav
        if mav.buf_len() == 0:
            return None
        msg = mav.parse_char(b"")
        if msg is not None:
            self._conn.post_message(msg)
            return msg
        if mav.buf_len() > 0:
            self.malformed_count += 1
            log.debug("dropped a partial MAVLink frame (%d bytes) at a datagram boundary", mav.buf_len())
            mav.buf, mav.buf_index = bytearray(), 0
            mav.expected_length = _MAVLINK_V1_HEADER_LEN + 2
        return None

    def _accept(self, msg: Any, stamp_s: float) -> bool:
        kind = msg.get_type()
        if kind == "BAD_DATA":
            self.malformed_count += 1
            log.debug("ignored malformed MAVLink data: %s", getattr(msg, "reason", ""))
            return False
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        if kind == "HEARTBEAT" and self.target_system is None and self._is_autopilot_heartbeat(msg):
            self.target_system, self.target_component = sysid, compid
            self.autopilot_type = int(msg.autopilot)
            log.info("autopilot found: system %d component %d (autopilot type %d)", sysid, compid, msg.autopilot)
        if (sysid, compid) == (self.target_system, self.target_component):
            self.last_message_s = stamp_s
            if kind == "HEARTBEAT":
                self.last_heartbeat_s = stamp_s
        return True

    @staticmethod
    def _is_autopilot_heartbeat(msg: Any) -> bool:
        return int(msg.type) not in _NOT_AUTOPILOT_TYPES and int(msg.autopilot) != MAV_AUTOPILOT_INVALID

    def receive(self, timeout_s: float = 0.0, max_messages: int = 1000) -> list[Any]:
        """Read every message already waiting (at most ``max_messages``); when none is waiting, wait up to
        ``timeout_s`` for the first. Each valid message goes to the handlers and is returned."""
        out: list[Any] = []
        deadline = self._clock() + max(0.0, timeout_s)
        while len(out) < max_messages:
            msg = self._read_one()
            if msg is None:
                remaining = deadline - self._clock()
                if out or remaining <= 0:
                    break
                self._conn.select(min(remaining, 0.05))
                continue
            stamp = self._clock()
            if self._accept(msg, stamp):
                for handler in self._handlers:
                    handler(msg, stamp)
                out.append(msg)
        return out

    def wait_for(self, predicate: Callable[[Any], bool], timeout_s: float, what: str) -> Any:
        """Receive (dispatching to handlers) until ``predicate(msg)``; raise LinkTimeout after ``timeout_s``."""
        if not (math.isfinite(timeout_s) and timeout_s >= 0):
            raise BridgeError(f"timeout_s: must be finite and >= 0, got {timeout_s}")
        deadline = self._clock() + timeout_s
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise LinkTimeout(f"no {what} from the autopilot on {self.connection} within {timeout_s:.2f} s")
            for msg in self.receive(timeout_s=min(remaining, 0.05), max_messages=1):
                if predicate(msg):
                    return msg

    def wait_heartbeat(self, timeout_s: float) -> Any:
        """Wait for the autopilot's HEARTBEAT (identifies target system/component)."""
        return self.wait_for(self.is_autopilot_heartbeat, timeout_s, "HEARTBEAT")

    def is_autopilot_heartbeat(self, msg: Any) -> bool:
        """``msg`` is a HEARTBEAT of the autopilot this link talks to."""
        return (msg.get_type() == "HEARTBEAT" and self._is_autopilot_heartbeat(msg)
                and msg.get_srcSystem() == self.target_system and msg.get_srcComponent() == self.target_component)

    def from_autopilot(self, msg: Any) -> bool:
        return (msg.get_srcSystem(), msg.get_srcComponent()) == (self.target_system, self.target_component)

    def link_ok(self, now_s: float) -> bool:
        """True while the autopilot is heard (see the module docstring for the rule)."""
        if now_s - self.last_heartbeat_s > self.heartbeat_timeout_s:
            return False
        return self.silence_timeout_s is None or now_s - self.last_message_s <= self.silence_timeout_s

    def link_lost_at_s(self) -> float:
        """The instant at which the link counts as lost if nothing more arrives."""
        lost = self.last_heartbeat_s + self.heartbeat_timeout_s
        if self.silence_timeout_s is not None:
            lost = min(lost, self.last_message_s + self.silence_timeout_s)
        return lost


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("ascii", errors="replace").rstrip("\x00")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


__all__ = ["MAV_TYPE_CAMERA", "MAV_TYPE_GCS", "MAV_TYPE_ONBOARD_CONTROLLER", "MavlinkLink", "parse_connection"]
