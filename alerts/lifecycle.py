"""The alert state machine, pure: (alert, observation, now, settings) → (alert, transitions,
notifications). No I/O and no clock: the manager loads, stores and passes `now`.

States: pending → firing → resolved. Acknowledgement, suppression (maintenance) and flapping
are attributes, not states, so an acknowledged alert still resolves and a suppressed one still
exists in the book.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.alert import Alert
from alerts.settings import AlertSettings, severity_rank
from rules.findings import Finding

# Lifecycle events that may produce notifications (routes and channels filter them).
NOTIFYING = ("fired", "upgraded", "renotify", "escalated", "resolved", "acknowledged")


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded change: `event` names it; from/to are the states around it."""

    event: str
    from_state: str | None
    to_state: str
    detail: str = ""
    reason: str | None = None  # acknowledgement reason code (alerts.alert.ACK_REASONS)


@dataclass(frozen=True, slots=True)
class Context:
    """What the manager knows besides the alert: the time, the settings, the surroundings."""

    now: datetime
    settings: AlertSettings
    maintenance: str | None = None  # reason of a maintenance window covering the key, if any
    flapping: bool = False  # the key fired too often in the last hour
    can_escalate: bool = False  # some route of this alert has an escalation route


@dataclass(frozen=True, slots=True)
class Step:
    """Result of one lifecycle call: the new alert (None = nothing to store) and what happened."""

    alert: Alert | None
    transitions: tuple[Transition, ...] = ()
    notify: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.transitions) or self.alert is not None


@dataclass
class _Draft:
    alert: Alert
    transitions: list[Transition] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)

    def move(
        self, event: str, detail: str = "", reason: str | None = None, **changes: object
    ) -> None:
        before = self.alert.state
        self.alert = self.alert.evolve(**changes)
        self.transitions.append(Transition(event, before, self.alert.state, detail, reason))

    def step(self) -> Step:
        return Step(self.alert, tuple(self.transitions), tuple(self.notify))


def required_duration(alert: Alert, settings: AlertSettings) -> timedelta:
    """How long a pending alert must persist before it fires."""
    if alert.basis != "instantaneous":
        return timedelta(0)
    if severity_rank(alert.severity) >= severity_rank(settings.fire_at_once_severity):
        return timedelta(0)
    return settings.min_duration_for(alert.kind)


def on_breach(alert: Alert | None, finding: Finding, cluster: str, ctx: Context) -> Step:
    """A finding for the alert's key: open a new alert or update the open one."""
    now = ctx.now
    if alert is None or not alert.is_open:
        draft = _Draft(
            Alert(
                id="",
                cluster=cluster,
                plant=finding.plant,
                station=finding.station,
                parameter=finding.parameter,
                kind=finding.kind,
                state="pending",
                severity=finding.severity,
                basis=finding.basis,
                value=finding.value,
                limit=finding.limit,
                ratio=finding.ratio,
                started_at=finding.start,
                last_end=finding.end,
                opened_at=now,
                last_breach_at=now,
                breach_bases=frozenset({finding.basis}),
                flapping=ctx.flapping,
                explanation=finding.explanation,
            )
        )
        draft.transitions.append(Transition("opened", None, "pending", finding.severity))
    else:
        draft = _Draft(alert)
        upgrade = severity_rank(finding.severity) > severity_rank(alert.severity)
        draft.alert = alert.evolve(
            basis=finding.basis,
            value=finding.value,
            limit=finding.limit,
            ratio=finding.ratio,
            started_at=min(alert.started_at, finding.start),
            last_end=max(alert.last_end, finding.end),
            last_breach_at=now,
            breach_bases=alert.breach_bases | {finding.basis},
            clear_since=None,
            flapping=alert.flapping or ctx.flapping,
            explanation=finding.explanation or alert.explanation,
        )
        if upgrade:
            draft.move(
                "upgraded", f"{alert.severity} -> {finding.severity}", severity=finding.severity
            )
            if draft.alert.announced_at is not None and draft.alert.suppressed is None:
                draft.notify.append("upgraded")
    _apply_maintenance(draft, ctx)
    _promote(draft, ctx)
    return draft.step()


def on_clear(
    alert: Alert, covered_bases: Collection[str] | None, value: float | None, ctx: Context
) -> Step:
    """The key was evaluated, had data and produced no finding of this kind.

    `covered_bases` = bases the evaluation checked (None = all); `value` = latest value, for
    hysteresis. `no_data` clears on any evaluation that saw data.
    """
    if not alert.is_open:
        return Step(None)
    draft = _Draft(alert)
    remaining: frozenset[str] = frozenset()
    if alert.kind != "no_data" and covered_bases is not None:
        remaining = alert.breach_bases - frozenset(covered_bases)
    if remaining:
        if remaining != alert.breach_bases:
            draft.alert = alert.evolve(breach_bases=remaining)
            return Step(draft.alert)
        return Step(None)
    if _held_by_hysteresis(alert, value, ctx.settings):
        if alert.breach_bases or alert.clear_since is not None:
            return Step(alert.evolve(breach_bases=frozenset(), clear_since=None))
        return Step(None)
    draft.alert = alert.evolve(
        breach_bases=frozenset(),
        clear_since=alert.clear_since or ctx.now,
        flapping=alert.flapping or ctx.flapping,
    )
    _resolve_if_clear_long_enough(draft, ctx)
    return draft.step()


def on_tick(alert: Alert, ctx: Context) -> Step:
    """Time passing: fire after min duration, resolve after a flap hold, renotify, escalate."""
    if not alert.is_open:
        return Step(None)
    draft = _Draft(alert)
    _apply_maintenance(draft, ctx)
    _promote(draft, ctx)
    if draft.alert.clear_since is not None:
        _resolve_if_clear_long_enough(draft, ctx)
    current = draft.alert
    quiet = current.acknowledged or current.suppressed is not None
    if current.state == "firing" and current.notified_at is not None and not quiet:
        due = ctx.now - current.notified_at >= ctx.settings.renotify_delta
        if due and "fired" not in draft.notify:
            draft.move(
                "renotify",
                f"#{current.notify_count + 1}",
                notified_at=ctx.now,
                notify_count=current.notify_count + 1,
            )
            draft.notify.append("renotify")
        announced = draft.alert.announced_at
        if (
            ctx.can_escalate
            and draft.alert.escalated_at is None
            and announced is not None
            and ctx.now - announced >= ctx.settings.escalation_delta
        ):
            draft.move("escalated", "", escalated_at=ctx.now)
            draft.notify.append("escalated")
    if draft.alert == alert and not draft.transitions:
        return Step(None)
    return draft.step()


def on_ack(
    alert: Alert, by: str, note: str | None, ctx: Context, reason: str | None = None
) -> Step:
    """An operator acknowledged (with an optional reason code): stops renotification and
    escalation; the alert stays open."""
    draft = _Draft(alert)
    draft.move(
        "acknowledged",
        by + (f": {note}" if note else ""),
        reason,
        acked_by=by,
        acked_at=ctx.now,
        ack_note=note,
        ack_reason=reason,
    )
    if alert.is_open:
        draft.notify.append("acknowledged")
    return draft.step()


def _held_by_hysteresis(alert: Alert, value: float | None, settings: AlertSettings) -> bool:
    if value is None or alert.limit is None:
        return False
    if alert.kind == "exceedance":
        return value > alert.limit * settings.clear_fraction
    if alert.kind == "below_minimum":
        return value < alert.limit * (2.0 - settings.clear_fraction)
    return False


def _apply_maintenance(draft: _Draft, ctx: Context) -> None:
    if ctx.maintenance is not None and draft.alert.suppressed is None:
        draft.move("suppressed", ctx.maintenance, suppressed=ctx.maintenance)
    elif ctx.maintenance is None and draft.alert.suppressed is not None:
        draft.move("unsuppressed", "maintenance window ended", suppressed=None)


def _promote(draft: _Draft, ctx: Context) -> None:
    """Pending → firing once the condition persisted; announce a firing alert not yet told."""
    alert = draft.alert
    if alert.state == "pending":
        persisted = max(ctx.now - alert.opened_at, alert.last_end - alert.started_at)
        if alert.clear_since is None and persisted >= required_duration(alert, ctx.settings):
            draft.move("fired", alert.severity, state="firing", fired_at=ctx.now)
    alert = draft.alert
    if alert.state == "firing" and alert.announced_at is None and alert.suppressed is None:
        draft.alert = alert.evolve(announced_at=ctx.now, notified_at=ctx.now, notify_count=1)
        draft.notify.append("fired")


def _resolve_if_clear_long_enough(draft: _Draft, ctx: Context) -> None:
    alert = draft.alert
    if alert.clear_since is None:
        return
    hold = ctx.settings.flap_hold_delta if alert.flapping else timedelta(0)
    if ctx.now - alert.clear_since < hold:
        return
    if alert.state == "pending":
        draft.move("discarded", "cleared before firing", state="resolved", resolved_at=ctx.now)
        return
    draft.move("resolved", "", state="resolved", resolved_at=ctx.now)
    if alert.announced_at is not None:
        draft.notify.append("resolved")
