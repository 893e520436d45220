"""The validation fast paths of ``types`` decide exactly as the numpy checks they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.errors import InvalidValueError
from drone_perception.types import _all_finite, _array, _shape_ok


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.bool_])
@pytest.mark.parametrize("n", [0, 1, 5, 64, 65, 300])
def test_all_finite_equals_numpy(dtype: type, n: int) -> None:
    rng = np.random.default_rng(n)
    for bad in (None, math.nan, math.inf, -math.inf):
        arr = (rng.normal(size=n) * 10).astype(dtype)
        if bad is not None and n and np.dtype(dtype).kind == "f":
            arr[int(rng.integers(n))] = bad
        assert _all_finite(arr) == bool(np.isfinite(arr).all())


@pytest.mark.parametrize(("got", "want", "ok"), [
    ((3,), (3,), True), ((3, 4), (None, 4), True), ((0, 4), (None, 4), True), ((3, 5), (None, 4), False),
    ((3,), (None, 4), False), ((3, 4, 1), (3, 4), False), ((2, 3, 3), (None, 3, 3), True), ((), (), True),
])
def test_shape_ok(got: tuple[int, ...], want: tuple[int | None, ...], ok: bool) -> None:
    assert _shape_ok(got, want) is ok


def test_array_fast_path_still_rejects_non_finite() -> None:
    with pytest.raises(InvalidValueError, match="NaN or infinite"):
        _array("x", np.array([1.0, math.nan, 2.0]), (None,), np.float64, finite=True)
    out = _array("x", np.array([1.0, 2.0]), (2,), np.float64, finite=True)
    assert not out.flags.writeable
