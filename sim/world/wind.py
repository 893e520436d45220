"""Wind: a mean vector plus Ornstein-Uhlenbeck gusts, per NED axis.

The gust ``g`` follows ``dg = -g / T dt + sigma * sqrt(2 / T) dW`` with time constant ``T =
gust_time_constant_s`` and stationary standard deviation ``sigma = gust_sigma_mps`` (per axis). It is integrated
exactly, so the statistics do not depend on ``dt_s``:
``g[k+1] = g[k] * exp(-dt/T) + sigma * sqrt(1 - exp(-2 dt/T)) * N(0, 1)``.
Wind velocity is the velocity of the air in NED (m/s), e.g. ``(0, 8, 0)`` = 8 m/s blowing towards the east.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError


class Wind:
    """``gust_sigma_mps`` is a scalar (all three axes) or a (3,) per-axis standard deviation. The gust state
    starts at zero; pass ``rng`` to start it from the stationary distribution instead."""

    def __init__(
        self,
        mean_ned_mps: npt.ArrayLike = (0.0, 0.0, 0.0),
        gust_sigma_mps: float | npt.ArrayLike = 0.0,
        gust_time_constant_s: float = 3.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        mean = np.array(mean_ned_mps, dtype=np.float64).reshape(-1)
        if mean.shape != (3,) or not np.all(np.isfinite(mean)):
            raise InvalidValueError(f"mean_ned_mps: expected 3 finite values, got {mean_ned_mps!r}")
        sigma = np.broadcast_to(np.asarray(gust_sigma_mps, dtype=np.float64), (3,)).copy()
        if not np.all(np.isfinite(sigma)) or np.any(sigma < 0.0):
            raise InvalidValueError(f"gust_sigma_mps: must be finite and >= 0, got {gust_sigma_mps!r}")
        if not (math.isfinite(gust_time_constant_s) and gust_time_constant_s > 0.0):
            raise InvalidValueError(
                f"gust_time_constant_s: must be positive and finite, got {gust_time_constant_s!r}")
        self.mean_ned_mps = mean
        self.gust_sigma_mps = sigma
        self.gust_time_constant_s = float(gust_time_constant_s)
        self._gust = rng.standard_normal(3) * sigma if rng is not None else np.zeros(3)
        self._calm = not np.any(sigma > 0.0)
        self._cached_dt_s = -1.0
        self._decay = 1.0
        self._noise_scale = np.zeros(3)

    @property
    def velocity_ned_mps(self) -> np.ndarray:
        """The current wind (mean + gust), NED m/s."""
        return self.mean_ned_mps + self._gust

    def step(self, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        """Advance the gusts by ``dt_s`` seconds and return the wind velocity (3,) NED m/s."""
        if not dt_s > 0.0:
            raise InvalidValueError(f"dt_s: must be > 0, got {dt_s!r}")
        if self._calm:
            return self.mean_ned_mps.copy()
        if dt_s != self._cached_dt_s:
            self._decay = math.exp(-dt_s / self.gust_time_constant_s)
            self._noise_scale = self.gust_sigma_mps * math.sqrt(1.0 - self._decay * self._decay)
            self._cached_dt_s = dt_s
        self._gust = self._gust * self._decay + self._noise_scale * rng.standard_normal(3)
        return self.mean_ned_mps + self._gust
