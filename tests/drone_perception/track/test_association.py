"""The one box IoU (``association.iou_matrix``): a table of cases, properties, and the copies still kept
elsewhere agreeing with it bit for bit (so switching them to it changes no figure)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from drone_perception.track.association import assign, iou_matrix


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
    ((0, 0, 10, 10), (5, 0, 15, 10), 1.0 / 3.0),
    ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching edges
    ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
    ((0, 0, 10, 10), (2, 2, 4, 4), 0.04),  # contained
    ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # degenerate: zero union
    ((0, 0, 10, 0), (0, 0, 10, 10), 0.0),  # zero height
    ((10, 0, 0, 10), (0, 0, 10, 10), 0.0),  # inverted
])
def test_iou_table(a, b, expected) -> None:
    assert iou_matrix(np.array([a], float), np.array([b], float))[0, 0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("na", "nb"), [(0, 0), (0, 3), (2, 0), (1, 1), (4, 7)])
def test_iou_shape(na, nb) -> None:
    rng = np.random.default_rng(na * 10 + nb)
    out = iou_matrix(_boxes(rng, na), _boxes(rng, nb))
    assert out.shape == (na, nb) and out.dtype == np.float64


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0.0, 200.0, (n, 2))
    wh = rng.uniform(0.5, 80.0, (n, 2))
    return np.column_stack([xy, xy + wh])


def test_iou_properties() -> None:
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 50), _boxes(rng, 60)
    m = iou_matrix(a, b)
    assert np.all((m >= 0.0) & (m <= 1.0))
    np.testing.assert_array_equal(m, iou_matrix(b, a).T)
    np.testing.assert_allclose(np.diag(iou_matrix(a, a)), 1.0, rtol=0, atol=1e-15)
    # float32 input (Detections, Tracks) is promoted, not truncated
    a32 = a.astype(np.float32)
    np.testing.assert_array_equal(iou_matrix(a32, b), iou_matrix(a32.astype(np.float64), b))


#: IoU copies elsewhere in the tree (module, function), checked while they exist.
_COPIES = [("drone_perception.detect.postprocess", "box_iou")]


@pytest.mark.parametrize(("module", "name"), _COPIES, ids=[f"{m}.{n}" for m, n in _COPIES])
def test_the_other_iou_copies_are_bit_identical(module, name) -> None:
    try:
        fn = getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError:
        fn = None
    if fn is None or fn is iou_matrix:
        pytest.skip(f"{module}.{name} is gone or is the one IoU now")
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = _boxes(rng, int(rng.integers(1, 12))), _boxes(rng, int(rng.integers(1, 12)))
        b[: len(b) // 2] = a[0] + rng.normal(0.0, 5.0, (len(b) // 2, 4))  # overlapping pairs
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.5)
        np.testing.assert_array_equal(np.asarray(fn(a, b)), iou_matrix(a, b))


def test_assign_never_returns_inadmissible_pairs() -> None:
    cost = np.array([[0.1, 0.9], [0.2, 0.3]])
    rows, cols = assign(cost, np.array([[True, False], [False, False]]))
    assert rows.tolist() == [0] and cols.tolist() == [0]
    rows, cols = assign(cost, np.zeros((2, 2), bool))
    assert rows.size == 0 and cols.size == 0
