import re

import pytest

from drone_perception.control import limits as L

NAMES = [n for n in dir(L) if n.isupper() and isinstance(getattr(L, n), str)]


@pytest.mark.parametrize("name", NAMES)
def test_every_constant_is_short_snake_case_and_in_all(name: str) -> None:
    value = getattr(L, name)
    assert re.fullmatch(r"[a-z][a-z_]{2,30}", value), value
    assert value in L.ALL


def test_values_are_unique_and_groups_are_subsets() -> None:
    values = [getattr(L, n) for n in NAMES]
    assert len(values) == len(set(values)) == len(L.ALL)
    assert L.GATES <= L.ALL and L.PROTECTIVE <= L.ALL and L.DISENGAGING_GATES <= L.GATES
