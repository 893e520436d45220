"""``drone-perception sim-vehicle``: run the simulated MAVLink ArduCopter alone, for any ground station.

Example: ``drone-perception sim-vehicle --listen udpin:127.0.0.1:14550`` then
``mavproxy.py --master=udpout:127.0.0.1:14550`` (or QGroundControl with a UDP link to that port).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim-vehicle", help="run the simulated MAVLink ArduCopter alone (for QGC, MAVProxy, ...)")
    p.add_argument("--listen", default="udpin:127.0.0.1:14550",
                   help="udpin:HOST:PORT (wait for ground stations) or udpout:HOST:PORT (send to one)")
    p.add_argument("--rate-hz", type=float, default=100.0, help="simulation step rate (Hz, wall clock)")
    p.add_argument("--loss", type=float, default=0.0, help="packet loss probability per datagram, [0, 1)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added one-way latency (ms)")
    p.add_argument("--signing-key", type=Path, default=None,
                   help="MAVLink 2 signing key file (32 bytes, 64 hex digits or a passphrase); unsigned refused")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault-injection random generator")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds (default: never)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override an ArduCopter parameter at start (repeatable), e.g. GUID_TIMEOUT=1")
    p.set_defaults(func=run)


def _params(pairs: list[str]) -> dict[str, float]:
    from drone_perception.errors import InvalidValueError

    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip().upper()] = float(value)
        except ValueError:
            raise InvalidValueError(f"--param {pair!r}: expected NAME=NUMBER") from None
        if not sep:
            raise InvalidValueError(f"--param {pair!r}: expected NAME=NUMBER")
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from sim.mavlink.faults import LinkFaultConfig
    from sim.mavlink.link import load_signing_key
    from sim.mavlink.vehicle import MavlinkSimVehicle, SimVehicleConfig

    faults = LinkFaultConfig(loss_probability=args.loss, latency_s=args.latency_ms / 1000.0)
    key = load_signing_key(args.signing_key) if args.signing_key is not None else None
    vehicle = MavlinkSimVehicle(args.listen, rng=np.random.default_rng(args.seed), params=_params(args.param),
                                config=SimVehicleConfig(faults=faults), signing_key=key)
    host, port = vehicle.local_address
    log.warning("simulated ArduCopter on %s (bound %s:%d)%s; Ctrl-C to stop", args.listen, host, port,
                ", signing required" if key else "")
    try:
        vehicle.run_realtime(args.duration_s, rate_hz=args.rate_hz)
    except KeyboardInterrupt:
        pass
    finally:
        vehicle.close()
        s = vehicle.link_stats
        log.warning("stopped at t=%.1f s: mode %s, armed %s; datagrams sent %d (dropped %d), received %d "
                    "(dropped %d), signature rejects %d", vehicle.time_s, vehicle.mode, vehicle.armed,
                    s.tx_attempted, s.tx_dropped, s.rx_attempted, s.rx_dropped, vehicle.signature_rejects)
    return 0
