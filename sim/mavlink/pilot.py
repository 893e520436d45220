"""RC channels of the simulated vehicle and the pilot-stick mapping of ArduCopter's pilot modes.

PWM values in microseconds (1000..2000, 1500 centre). Channels 1..4 are roll, pitch, throttle, yaw (AETR as
ArduCopter's default RCMAP); the rest are free (e.g. a dead-man switch the companion reads from
``RC_CHANNELS``). Throttle rests at mid-stick here, so a pilot mode holds altitude without a transmitter.
"""

from __future__ import annotations

import math

import numpy as np

from drone_perception.errors import InvalidValueError
from sim.mavlink.params import ParamStore

N_CHANNELS = 18
_DEADBAND_US = 30.0
_PILOT_YAW_RATE_RADPS = math.radians(90.0)


class RcChannels:
    """Base PWM per channel (the "transmitter", settable by tests) plus expiring ground-station overrides."""

    def __init__(self) -> None:
        self._base_us = [1500] * N_CHANNELS
        self._override: dict[int, tuple[int, float]] = {}  # channel index -> (pwm_us, expires_s)

    def set(self, channel: int, pwm_us: int) -> None:
        """Set the transmitter value of 1-based ``channel`` (1..18) to ``pwm_us`` (800..2200 us)."""
        if not 1 <= channel <= N_CHANNELS:
            raise InvalidValueError(f"RC channel {channel} outside [1, {N_CHANNELS}]")
        if not 800 <= pwm_us <= 2200:
            raise InvalidValueError(f"RC channel {channel} pwm {pwm_us} us outside [800, 2200]")
        self._base_us[channel - 1] = int(pwm_us)

    def override(self, values_us: list[int], now_s: float, lifetime_s: float) -> None:
        """Apply ``RC_CHANNELS_OVERRIDE`` fields chan1..chan18 (MAVLink semantics: for 1..8, 0 releases and
        65535 ignores; for 9..18, 0 and 65535 ignore and 65534 releases)."""
        for i, v in enumerate(values_us[:N_CHANNELS]):
            release = v == 0 if i < 8 else v == 65534
            ignore = v == 65535 if i < 8 else v in (0, 65535)
            if release:
                self._override.pop(i, None)
            elif not ignore and 800 <= v <= 2200:
                self._override[i] = (int(v), now_s + lifetime_s)

    def expire(self, now_s: float) -> None:
        for i in [i for i, (_, t) in self._override.items() if now_s >= t]:
            del self._override[i]

    def values_us(self) -> list[int]:
        return [self._override[i][0] if i in self._override else b for i, b in enumerate(self._base_us)]

    def get(self, channel: int) -> int:
        return self.values_us()[channel - 1]


def _stick(pwm_us: int) -> float:
    """-1..1 from PWM with a deadband around 1500 us."""
    d = float(pwm_us) - 1500.0
    if abs(d) <= _DEADBAND_US:
        return 0.0
    return max(-1.0, min(1.0, (d - math.copysign(_DEADBAND_US, d)) / (500.0 - _DEADBAND_US)))


def pilot_velocity(rc: RcChannels, yaw_rad: float, params: ParamStore) -> tuple[np.ndarray, float]:
    """Pilot velocity (m/s, NED) and yaw rate (rad/s) from the sticks, LOITER-style.

    Pitch stick forward (low PWM) flies forward along ``yaw_rad``; roll right flies right; throttle above mid
    climbs (negative down velocity).
    """
    v = rc.values_us()
    speed = params.get("LOIT_SPEED") / 100.0
    up = params.get("PILOT_SPEED_UP") / 100.0
    dn = (params.get("PILOT_SPEED_DN") or params.get("PILOT_SPEED_UP")) / 100.0
    fwd = -_stick(v[1]) * speed
    right = _stick(v[0]) * speed
    thr = _stick(v[2])
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    vel = np.array([c * fwd - s * right, s * fwd + c * right, -thr * (up if thr > 0 else dn)])
    return vel, _stick(v[3]) * _PILOT_YAW_RATE_RADPS
