"""Keeping Python's garbage collector out of the control period.

A full (generation-2) collection walks every tracked object; after start-up that heap holds pymavlink's whole
dialect, numpy, onnxruntime and the model, and one pass took 55 ms on the CI-sized machine (bench_latency.py),
longer than a 20 Hz control period. :func:`settle_heap` collects once and moves everything alive into the
permanent generation (``gc.freeze``), so later collections scan only what the loop itself allocates. Objects
still die by reference counting as usual; cycle collection of the frozen objects waits for :func:`release_heap`
(call it when the loop ends, so a process that runs many loops, a test session, does not keep their cycles).
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect, then freeze the surviving start-up heap; call once after set-up, before the control loop.
    Returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def release_heap() -> None:
    """Undo :func:`settle_heap`: the frozen objects go back to the oldest generation and can be collected."""
    gc.unfreeze()


__all__ = ["release_heap", "settle_heap"]
