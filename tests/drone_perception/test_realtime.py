"""settle_heap: the start-up heap is frozen out of full collections; what the loop allocates is still collected."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from drone_perception.realtime import release_heap, settle_heap


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    release_heap()


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settle_heap_freezes_start_up_objects_and_later_cycles_are_still_collected(unfreeze: None) -> None:
    start_up = [_Node() for _ in range(100)]
    frozen = settle_heap()
    assert frozen >= len(start_up) and gc.get_freeze_count() == frozen
    a, b = _Node(), _Node()  # a cycle made by "the loop" after set-up
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2


def test_release_heap_returns_the_frozen_objects_to_the_collector(unfreeze: None) -> None:
    settle_heap()
    assert gc.get_freeze_count() > 0
    release_heap()
    assert gc.get_freeze_count() == 0
