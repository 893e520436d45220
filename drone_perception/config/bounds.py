"""The numeric range of a config field, read from its pydantic ``Field(ge=/gt=, le=/lt=)`` metadata.

One source for a range: code that re-checks a value at run time (the safety governor, for a config built
without validation by ``model_construct``) and error messages that quote an allowed range both read it
from here, so they cannot drift from the config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import annotated_types as at
from pydantic import BaseModel


@dataclass(frozen=True)
class Bounds:
    """``lo``/``hi`` with their inclusiveness (``ge``/``le`` inclusive, ``gt``/``lt`` exclusive)."""

    lo: float
    lo_inclusive: bool
    hi: float
    hi_inclusive: bool

    def contains(self, value: float) -> bool:
        """True for a finite ``value`` inside the range (False for NaN)."""
        above = value >= self.lo if self.lo_inclusive else value > self.lo
        below = value <= self.hi if self.hi_inclusive else value < self.hi
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        return f"{'[' if self.lo_inclusive else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_inclusive else ')'}"


def field_bounds(model: type[BaseModel], name: str) -> Bounds:
    """The range of ``model``'s field ``name``. Raises ``KeyError`` for an unknown field and ``ValueError``
    when the field does not declare both a lower and an upper bound."""
    lo: tuple[float, bool] | None = None
    hi: tuple[float, bool] | None = None
    for m in model.model_fields[name].metadata:
        if isinstance(m, at.Ge):
            lo = (float(m.ge), True)  # type: ignore[arg-type]
        elif isinstance(m, at.Gt):
            lo = (float(m.gt), False)  # type: ignore[arg-type]
        elif isinstance(m, at.Le):
            hi = (float(m.le), True)  # type: ignore[arg-type]
        elif isinstance(m, at.Lt):
            hi = (float(m.lt), False)  # type: ignore[arg-type]
    if lo is None or hi is None:
        raise ValueError(f"{model.__name__}.{name}: needs both a lower and an upper bound (ge/gt and le/lt)")
    return Bounds(lo[0], lo[1], hi[0], hi[1])


__all__ = ["Bounds", "field_bounds"]
