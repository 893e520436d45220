"""Charter invariants about what the stack *sent*: engagement, expiry, allowlist, operator in command,
tether/simulation only, whether the run exercised the stack at all, and whether the evidence itself is
complete. A check with nothing to check says ``not_exercised`` (never ``pass``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from drone_perception.audit.model import EXERCISED_KEY, CheckResult, Status
from drone_perception.audit.series import Context, StepSeries, sent_setpoints
from drone_perception.mavlink_tables import (
    ARDUPILOT,
    FORBIDDEN_COMMANDS,
    FORBIDDEN_MESSAGES,
    MAV_CMD_DO_SET_MODE,
    PX4,
    OutgoingAllowlist,
    dialect_for,
)
from drone_perception.record import topics
from drone_perception.record.reader import FlightLog
from drone_perception.types import ModeRequest

# What may be sent, what must never be (FORBIDDEN_COMMANDS / FORBIDDEN_MESSAGES) and the dialects' safer modes
# are the bridge's own tables (drone_perception.mavlink_tables); the audit only looks for them in records.


def _safe_mode_params(ctx: Context) -> frozenset[tuple[int, int, int]]:
    """DO_SET_MODE parameter triples of the safer modes (for the run's autopilot, else either)."""
    link_cfg = ((ctx.meta or {}).get("config") or {}).get("link") or {}
    name = link_cfg.get("autopilot") if isinstance(link_cfg, dict) else None
    try:
        return dialect_for(name).safe_mode_params if name else ARDUPILOT.safe_mode_params | PX4.safe_mode_params
    except Exception:  # unknown autopilot name in the record: accept either dialect's safer modes
        return ARDUPILOT.safe_mode_params | PX4.safe_mode_params


def _no_traffic(key: str, title: str, item: int, log: FlightLog, ctx: Context) -> CheckResult | None:
    """Result when nothing was recorded on /mavlink/out (None when there is traffic to check)."""
    if log.get(topics.MAVLINK_OUT):
        return None
    if ctx.is_sim:
        return CheckResult(key, title, item, Status.NOT_EXERCISED,
                           f"no MAVLink traffic to check: direct simulation link ({ctx.link!r}), the stack could only "
                           "send velocity commands to the simulator", basis="/meta link")
    return CheckResult(key, title, item, Status.UNVERIFIABLE,
                       "no /mavlink/out recorded on a non-simulation link: what was sent cannot be checked")


def check_no_commands_while_disengaged(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 2: no setpoint leaves the stack unless the operator engaged follow with a live dead-man."""
    key, title, item = "no_commands_while_disengaged", "No commands while disengaged", 2
    sps, basis = sent_setpoints(log)
    if len(ctx.engaged) == 0:
        return CheckResult(key, title, item, Status.UNVERIFIABLE,
                           "engagement state unknown: no /operator/input and no engaged flag on /control/safe")
    if not sps and not (log.get(topics.MAVLINK_OUT) or log.get(topics.SAFE)):
        return CheckResult(key, title, item, Status.UNVERIFIABLE, "neither /mavlink/out nor /control/safe recorded")
    bad = [sp.stamp_s for sp in sps if not ctx.engaged.at(sp.stamp_s, False)]
    bad += [s for s, m in log.get(topics.SAFE) if m.get("sent") is True and m.get("engaged") is False]
    bad.sort()
    detail = (f"{len(bad)} of {len(sps)} setpoints sent while disengaged (first at t={bad[0]:.2f} s)" if bad
              else f"all {len(sps)} setpoints sent while engaged")
    return CheckResult(key, title, item, Status.FAIL if bad else Status.PASS, detail + f"; engagement from "
                       f"{ctx.engaged_source}", None, "", bad[0] if bad else None, basis, len(bad), len(sps))


def check_commands_expire(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 4: every setpoint is sent before its ``expires_at_s``; nothing is re-sent after the
    pipeline stopped producing commands (a send after the last command's expiry)."""
    key, title, item = "commands_expire", "Commands expire, no background re-send", 4
    sps, basis = sent_setpoints(log)
    safe = StepSeries([(s, m.get("expires_at_s")) for s, m in log.get(topics.SAFE)])
    if not sps:
        if log.get(topics.MAVLINK_OUT) or log.get(topics.SAFE):
            return CheckResult(key, title, item, Status.NOT_EXERCISED, "no setpoints were sent: no expiry to check",
                               basis=basis)
        return CheckResult(key, title, item, Status.UNVERIFIABLE, "neither /mavlink/out nor /control/safe recorded")
    margins: list[tuple[float, float]] = []
    unknown = 0
    for sp in sps:
        exp = sp.expires_at_s if sp.expires_at_s is not None else safe.at(sp.stamp_s)
        if not isinstance(exp, (int, float)) or not math.isfinite(exp):
            unknown += 1
            continue
        margins.append((float(exp) - sp.stamp_s, sp.stamp_s))
    if not margins:
        return CheckResult(key, title, item, Status.UNVERIFIABLE,
                           f"{unknown} setpoints sent but no expiry time recorded for any of them", unit="s")
    worst = min(margins)
    bad = sum(1 for m, _ in margins if m <= 0)
    last_cmd = safe.stamps[-1] if len(safe) else None
    after = [sp.stamp_s for sp in sps if last_cmd is not None and sp.stamp_s > last_cmd]
    detail = f"smallest time left before expiry at send {worst[0] * 1000:.0f} ms (t={worst[1]:.2f} s)"
    if bad:
        detail += f"; {bad} setpoints sent at or after their expiry (stale or re-sent in the background)"
    if after:
        detail += f"; {len(after)} setpoints sent after the pipeline's last command (t={last_cmd:.2f} s)"
    status = Status.FAIL if bad else Status.PASS
    if unknown and status is Status.PASS:
        status = Status.UNVERIFIABLE
        detail += f"; {unknown} setpoints have no known expiry"
    return CheckResult(key, title, item, status, detail, worst[0], "s", worst[1], basis, bad, len(margins))


class _Msg(SimpleNamespace):
    """A recorded /mavlink/out message dressed up as the MAVLink message object :class:`OutgoingAllowlist` reads."""

    def get_type(self) -> str:
        return str(self.msg_type)


#: Where the allowlist verdict comes from (the result's ``basis``).
ALLOWLIST_BASIS = "drone_perception.mavlink_tables.OutgoingAllowlist (the bridge's own rule and tables)"


def _allowlist_checker(ctx: Context) -> Callable[[dict[str, Any]], str | None]:
    """The bridge's allowlist rule over one recorded message: why it was not allowed, or None."""
    al = OutgoingAllowlist(_safe_mode_params(ctx))

    def check(m: dict[str, Any]) -> str | None:
        fields = dict(m.get("fields") or {})
        if m.get("command") is not None:
            fields.setdefault("command", m["command"])
        return al.violation(_Msg(msg_type=m.get("msg_type"), **fields))

    return check


def check_allowlist(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 6: every outgoing MAVLink message is on the bridge's explicit allowlist."""
    key, title, item = "allowlist", "Outgoing MAVLink on the allowlist", 6
    early = _no_traffic(key, title, item, log, ctx)
    if early is not None:
        return early
    checker, basis = _allowlist_checker(ctx), ALLOWLIST_BASIS
    bad: list[tuple[float, str]] = []
    incomplete = 0
    msgs = log.get(topics.MAVLINK_OUT)
    for s, m in msgs:
        try:
            why = checker(m)
        except (AttributeError, TypeError):
            incomplete += 1  # the record lacks a field the bridge's check needs
            continue
        if why:
            bad.append((s, why))
    if bad:
        return CheckResult(key, title, item, Status.FAIL, f"{len(bad)} of {len(msgs)} messages not allowed; first at "
                           f"t={bad[0][0]:.2f} s: {bad[0][1]}", None, "", bad[0][0], basis, len(bad), len(msgs))
    if incomplete:
        return CheckResult(key, title, item, Status.UNVERIFIABLE, f"{incomplete} of {len(msgs)} recorded messages "
                           "lack the fields needed to check them", basis=basis, samples=len(msgs))
    return CheckResult(key, title, item, Status.PASS, f"all {len(msgs)} outgoing messages allowed", basis=basis,
                       samples=len(msgs))


def check_operator_in_command(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 2: the stack never arms, takes off or switches into an autonomous mode; it may only
    request the safer modes (BRAKE/LOITER/HOLD, RTL, LAND)."""
    key, title, item = "operator_in_command", "Operator in command (no arm/takeoff/mode grab)", 2
    bad: list[tuple[float, str]] = []
    safer = {r.value for r in ModeRequest}
    for s, m in log.get(topics.SAFE):
        req = m.get("mode_request")
        if req is not None and req not in safer:
            bad.append((s, f"governor requested mode {req!r}"))
    early = _no_traffic(key, title, item, log, ctx)
    if early is not None and not bad:
        safe_n = len(log.get(topics.SAFE))
        if early.status is Status.NOT_EXERCISED and safe_n:
            return CheckResult(key, title, item, Status.PASS, f"{early.detail}; the governor requested only safer "
                               f"modes in {safe_n} outputs", basis="/meta link + /control/safe", samples=safe_n)
        return early
    modes = _safe_mode_params(ctx)
    unknown = 0
    msgs = log.get(topics.MAVLINK_OUT)
    for s, m in msgs:
        kind = m.get("msg_type")
        cmd = m.get("command")
        if kind in FORBIDDEN_MESSAGES:
            bad.append((s, f"sent {kind}"))
        elif isinstance(cmd, int) and cmd in FORBIDDEN_COMMANDS:
            bad.append((s, f"sent {FORBIDDEN_COMMANDS[cmd]} (command {cmd})"))
        elif cmd == MAV_CMD_DO_SET_MODE:
            f = m.get("fields") or {}
            try:
                triple = (round(f["param1"]), round(f["param2"]), round(f.get("param3", 0)))
            except (KeyError, TypeError, ValueError):
                unknown += 1
                continue
            if triple not in modes:
                bad.append((s, f"DO_SET_MODE {triple} is not a safer-mode request"))
    if bad:
        return CheckResult(key, title, item, Status.FAIL, f"{len(bad)} violations; first at t={bad[0][0]:.2f} s: "
                           f"{bad[0][1]}", None, "", bad[0][0], "/mavlink/out + /control/safe", len(bad), len(msgs))
    if unknown:
        return CheckResult(key, title, item, Status.UNVERIFIABLE, f"{unknown} mode requests could not be checked "
                           "(missing parameters)", samples=len(msgs))
    return CheckResult(key, title, item, Status.PASS, f"no arm, take-off or non-safer mode command in {len(msgs)} "
                       "messages", basis="/mavlink/out + /control/safe", samples=len(msgs))


def check_tether_or_sim(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 7: closed-loop commands only on a simulator link or a tethered vehicle."""
    key, title, item = "tether_or_sim", "Closed loop only tethered or in simulation", 7
    sps, _ = sent_setpoints(log)
    if ctx.meta is None:
        return CheckResult(key, title, item, Status.UNVERIFIABLE, "no /meta: link and tether are unknown")
    if not sps:
        return CheckResult(key, title, item, Status.NOT_EXERCISED,
                           "no setpoints sent (perception only): no closed loop to check", basis="/meta")
    if ctx.is_sim:
        return CheckResult(key, title, item, Status.PASS, f"simulation link {ctx.link!r}", basis="/meta link",
                           samples=len(sps))
    if ctx.tethered:
        return CheckResult(key, title, item, Status.PASS, f"link {ctx.link!r}, vehicle declared tethered",
                           basis="/meta tethered", samples=len(sps))
    return CheckResult(key, title, item, Status.FAIL, f"{len(sps)} setpoints sent on link {ctx.link!r} with no tether "
                       "declared", None, "", sps[0].stamp_s, "/meta", len(sps), len(sps))


def check_exercised(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 8: the run did its job, so that its passes mean something: the operator engaged follow and
    at least one motion setpoint (not a hold) left the stack. Otherwise ``not_exercised``, and the overall
    verdict is not a pass (:attr:`AuditVerdict.overall`)."""
    key, title, item = EXERCISED_KEY, "The run exercised the stack (follow engaged, motion sent)", 8
    if len(ctx.engaged) == 0:
        return CheckResult(key, title, item, Status.UNVERIFIABLE,
                           "engagement state unknown: no /operator/input and no engaged flag on /control/safe")
    sps, basis = sent_setpoints(log)
    if not sps and not (log.get(topics.MAVLINK_OUT) or log.get(topics.SAFE)):
        return CheckResult(key, title, item, Status.UNVERIFIABLE, "neither /mavlink/out nor /control/safe recorded")
    engaged_n = sum(1 for v in ctx.engaged.values if v)
    motion = [sp for sp in sps if sp.is_motion]
    reasons = []
    if engaged_n == 0:
        reasons.append("follow never engaged")
    if not motion:
        reasons.append(f"no motion setpoint sent ({len(sps)} sent, all holds)" if sps else "no setpoint sent")
    engaged_txt = f"engaged in {engaged_n} of {len(ctx.engaged)} samples of {ctx.engaged_source}"
    if reasons:
        return CheckResult(key, title, item, Status.NOT_EXERCISED, "; ".join(reasons) + f" ({engaged_txt}): "
                           "the other checks had nothing to check, this run is not a pass", basis=basis,
                           samples=len(sps))
    return CheckResult(key, title, item, Status.PASS, f"{engaged_txt}; {len(motion)} of {len(sps)} setpoints sent "
                       "were motion (not holds)", basis=basis, samples=len(sps))


REQUIRED_TOPICS = (topics.META, topics.FENCE, topics.SAFE, topics.VEHICLE, topics.OPERATOR)


def check_evidence(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 8: the record exists, was closed properly, says the run ended (not interrupted) and holds the
    topics the audit needs. Anything less is *unverifiable* (exit 3), never a pass: a damaged or interrupted
    record cannot show what happened in the part that is missing."""
    key, title, item = "evidence", "Evidence complete", 8
    missing = [t for t in REQUIRED_TOPICS if not log.get(t) and not (t == topics.FENCE and ctx.fence)]
    issues = list(log.problems)
    ends = [m for _, m in log.get(topics.RUN_END) if isinstance(m, dict)]
    if ends and not ends[-1].get("complete", False):
        issues.append(f"the run did not finish: {ends[-1].get('reason', 'interrupted')}")
    if missing:
        issues.append("missing topics: " + ", ".join(missing))
    if not log.complete and not any("footer" in p or "empty" in p for p in issues):
        issues.append("no MCAP footer (record not closed)")
    if issues:
        return CheckResult(key, title, item, Status.UNVERIFIABLE, "; ".join(issues), basis=str(log.path),
                           violations=len(issues), samples=log.message_count)
    return CheckResult(key, title, item, Status.PASS, f"{log.message_count} messages on {len(log.messages)} topics, "
                       "record closed cleanly", basis=str(log.path), samples=log.message_count)
