"""MAVLink bridge on loopback UDP: setpoint-stream interval jitter at 20 and 50 Hz (sender side and as
received by a pymavlink autopilot peer), beside a bare pymavlink send loop in the same run; and link-loss
detection time after the autopilot goes silent, beside the configured budget.

    .venv/bin/python bench/bench_bridge.py [--seconds 4] [--trials 5]

Jitter = |interval - period| between consecutive setpoints. Link loss: the peer stops all traffic right
after a heartbeat; the owner loop polls at 100 Hz.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

import numpy as np

os.environ["MAVLINK20"] = "1"
from pymavlink import mavutil

from drone_perception.config.link import LinkConfig
from drone_perception.types import SafeCommand, VelocityCommand, Verdict
from firmware_bridge.bridge import MavlinkBridge


class Peer:
    """Autopilot stand-in: 5 Hz heartbeat, 20 Hz LOCAL_POSITION_NED; stamps every setpoint on arrival."""

    def __init__(self, port: int) -> None:
        self.conn = mavutil.mavlink_connection(f"udpout:127.0.0.1:{port}", source_system=1, source_component=1)
        self.arrivals: list[float] = []
        self.streaming = threading.Event()
        self.streaming.set()
        self.last_sent_s = 0.0
        self.last_heartbeat_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        mav = self.conn.mav
        next_hb = next_pos = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self.streaming.is_set():
                if now >= next_hb:
                    mav.heartbeat_send(2, 3, 128 | 1, 4, 4)
                    self.last_heartbeat_s = self.last_sent_s = now
                    next_hb = now + 0.2
                if now >= next_pos:
                    mav.local_position_ned_send(0, 0.0, 0.0, -10.0, 0.0, 0.0, 0.0)
                    self.last_sent_s = now
                    next_pos = now + 0.05
            while (m := self.conn.recv_msg()) is not None:
                if m.get_type() == "SET_POSITION_TARGET_LOCAL_NED":
                    self.arrivals.append(time.monotonic())
            self.conn.select(0.001)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.conn.close()


def jitter_ms(stamps: list[float], period_s: float) -> tuple[float, float, int]:
    d = np.abs(np.diff(np.asarray(stamps)) - period_s) * 1000.0
    return float(np.percentile(d, 50)), float(np.percentile(d, 99)), len(stamps)


def paced(rate_hz: float, seconds: float, step: Any) -> list[float]:
    """Call ``step(now)`` on an absolute schedule; returns the call stamps."""
    period = 1.0 / rate_hz
    t_next = time.monotonic()
    stamps = []
    end = t_next + seconds
    while t_next < end:
        delay = t_next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = time.monotonic()
        step(now)
        stamps.append(now)
        t_next += period
    return stamps


def bench_stream(rate_hz: float, seconds: float) -> None:
    period = 1.0 / rate_hz
    bridge = MavlinkBridge.open(LinkConfig(connection="udpin:127.0.0.1:0"), control_rate_hz=rate_hz)
    addr = bridge.link.local_address
    assert addr is not None
    peer = Peer(addr[1])
    try:
        bridge.connect(timeout_s=3.0)
        hold = np.zeros(3)

        def bridge_step(now: float) -> None:
            bridge.poll(now)
            bridge.send(SafeCommand(VelocityCommand(hold, 0.0, now), Verdict.HOLD, frozenset(), now + 0.2), now)

        sent = paced(rate_hz, seconds, bridge_step)
        time.sleep(0.1)
        got = list(peer.arrivals)
        peer.arrivals.clear()

        # reference: a bare pymavlink send loop on the bridge's own socket, same schedule, no bridge logic
        mav = bridge.link.mav

        def bare_step(now: float) -> None:
            mav.set_position_target_local_ned_send(0, 1, 1, 1, 1479, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        ref_sent = paced(rate_hz, seconds, bare_step)
        time.sleep(0.1)
        ref_got = list(peer.arrivals)
    finally:
        peer.close()
        bridge.close()
    for label, stamps in (("bridge send()", sent), ("bridge, received", got), ("bare pymavlink send", ref_sent),
                          ("bare, received", ref_got)):
        p50, p99, n = jitter_ms(stamps, period)
        print(f"  {rate_hz:4.0f} Hz  {label:<22} jitter p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  (n={n})")


def bench_link_loss(trials: int) -> None:
    delays_hb, delays_msg = [], []
    for _ in range(trials):
        bridge = MavlinkBridge.open(LinkConfig(connection="udpin:127.0.0.1:0"))
        addr = bridge.link.local_address
        assert addr is not None
        peer = Peer(addr[1])
        try:
            bridge.connect(timeout_s=3.0)
            hb = peer.last_heartbeat_s
            while peer.last_heartbeat_s == hb:  # stop right after a fresh heartbeat
                bridge.poll(time.monotonic(), timeout_s=0.002)
            peer.streaming.clear()
            time.sleep(0.002)
            last_hb, last_msg = peer.last_heartbeat_s, peer.last_sent_s
            while bridge.poll(time.monotonic(), timeout_s=0.01).link_ok:
                pass
            now = time.monotonic()
            delays_hb.append(now - last_hb)
            delays_msg.append(now - last_msg)
        finally:
            peer.close()
            bridge.close()
    hb, msg = np.array(delays_hb) * 1000, np.array(delays_msg) * 1000
    print(f"  link loss detected after the last heartbeat: median {np.median(hb):.0f} ms, max {hb.max():.0f} ms; "
          f"after the last message: median {np.median(msg):.0f} ms (n={trials})")
    print("  reference budget: silence timeout 500 ms after the last message, heartbeat timeout 1000 ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    print("setpoint stream on loopback UDP (interval jitter = |interval - period|)")
    for rate in (20.0, 50.0):
        bench_stream(rate, args.seconds)
    print("link-loss detection (owner loop polling at 100 Hz)")
    bench_link_loss(args.trials)


if __name__ == "__main__":
    main()
