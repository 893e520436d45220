"""The audit's verdict: one result per charter invariant, and what the whole record amounts to.

A check is ``pass`` only when the record holds the evidence to show the invariant held over the whole
run. Missing or damaged evidence gives ``unverifiable``, which is never counted as a pass. A check with
nothing to check (no setpoint sent, follow never engaged, no MAVLink on a direct link) says ``not_exercised``.

The overall verdict is never ``pass`` for a run that did not do its job (charter item 8): when the
``exercised`` check finds that follow never engaged or no motion setpoint was sent, the verdict is
``not_exercised`` (exit 4), whatever the other checks say (a failure or an unverifiable check still comes
first). A check that is ``not_exercised`` on a run that did its job (the allowlist on a direct simulation link,
which has no MAVLink traffic) does not stand in the way of a pass: that invariant cannot be broken on that link.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

#: Exit codes of ``drone-perception audit`` (2 is the CLI's generic error code).
EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_UNVERIFIABLE = 3
EXIT_NOT_EXERCISED = 4

#: The check that says whether the run exercised the stack at all (follow engaged, motion setpoints sent).
EXERCISED_KEY = "exercised"


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    UNVERIFIABLE = "unverifiable"
    #: Nothing to check: the run never did what the invariant is about (never a pass).
    NOT_EXERCISED = "not_exercised"


@dataclass(frozen=True)
class CheckResult:
    """One invariant over one record.

    ``worst_margin``: the smallest distance from the limit seen (in ``unit``; negative = violated),
    None when the invariant has no numeric margin or nothing could be measured.
    ``worst_at_s``: stack time (``stamp_s``) of the worst margin, or of the first violation.
    ``basis``: what evidence the verdict rests on (e.g. "ground truth", "estimated").
    """

    key: str
    title: str
    charter_item: int
    status: Status
    detail: str
    worst_margin: float | None = None
    unit: str = ""
    worst_at_s: float | None = None
    basis: str = ""
    violations: int = 0
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), 4)

        return {
            "invariant": self.key,
            "title": self.title,
            "charter_item": self.charter_item,
            "status": self.status.value,
            "worst_margin": num(self.worst_margin),
            "unit": self.unit,
            "worst_at_s": num(self.worst_at_s),
            "basis": self.basis,
            "violations": self.violations,
            "samples": self.samples,
            "detail": self.detail,
        }


def downgrade_if_partial(result: CheckResult, reason: str | None) -> CheckResult:
    """A pass over a truncated/damaged record only covers what was read: make it unverifiable."""
    if reason is None or result.status is not Status.PASS:
        return result
    return CheckResult(
        key=result.key, title=result.title, charter_item=result.charter_item, status=Status.UNVERIFIABLE,
        detail=f"held over the part that could be read, but {reason}. {result.detail}",
        worst_margin=result.worst_margin, unit=result.unit, worst_at_s=result.worst_at_s, basis=result.basis,
        violations=result.violations, samples=result.samples,
    )


@dataclass(frozen=True)
class AuditVerdict:
    """Every check over one record, plus what limited the audit (``problems``)."""

    record: str
    results: tuple[CheckResult, ...]
    problems: tuple[str, ...] = ()
    span_s: tuple[float, float] | None = None
    record_complete: bool = False
    autopilot: dict[str, Any] = field(default_factory=dict)
    #: What produced the run (from the record's /meta) and what audited it.
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> Status:
        """fail > unverifiable > not_exercised (the run never engaged / sent no motion setpoint) > pass."""
        statuses = {r.status for r in self.results}
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.UNVERIFIABLE in statuses or not self.results:
            return Status.UNVERIFIABLE
        exercised = [r for r in self.results if r.key == EXERCISED_KEY]
        if not exercised or exercised[0].status is not Status.PASS:
            return Status.NOT_EXERCISED
        return Status.PASS

    @property
    def exit_code(self) -> int:
        return {Status.PASS: EXIT_PASS, Status.FAIL: EXIT_FAIL, Status.UNVERIFIABLE: EXIT_UNVERIFIABLE,
                Status.NOT_EXERCISED: EXIT_NOT_EXERCISED}[self.overall]

    def result(self, key: str) -> CheckResult:
        for r in self.results:
            if r.key == key:
                return r
        raise KeyError(f"no check named {key!r} (have {[r.key for r in self.results]})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "overall": self.overall.value,
            "exit_code": self.exit_code,
            "record_complete": self.record_complete,
            "span_s": list(self.span_s) if self.span_s else None,
            "problems": list(self.problems),
            "invariants": {r.key: r.to_dict() for r in self.results},
            "autopilot": self.autopilot,
            "provenance": self.provenance,
        }
