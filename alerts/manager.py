"""The alert manager: feeds findings through the lifecycle, keeps the book, fills the outbox
and runs the delivery workers. The collector calls `observe()` after each evaluation and
`tick()` every second; the CLI calls `list_alerts()` and `ack()`.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.alert import Alert, check_ack_reason
from alerts.book import Book
from alerts.channels.base import Channel
from alerts.channels.mqtt import Publish
from alerts.channels.registry import build_channels
from alerts.errors import AlertsError
from alerts.events import alert_event, alert_line
from alerts.history import HistoryEntry, merge_history
from alerts.lifecycle import Context, Step, Transition, on_ack, on_breach, on_clear, on_tick
from alerts.messages import Messages
from alerts.notification import Notification
from alerts.outbox import Outbox
from alerts.routing import can_escalate, targets
from alerts.settings import AlertSettings, severity_rank
from rules.cluster import ClusterLayout
from rules.findings import Finding
from rules.permit import Plant
from rules.topics import TopicError, parse
from rules.vocabulary import LANGS

log = logging.getLogger(__name__)

ScopeKey = tuple[str, str, str]
_POLL_S = 0.25
# Events recorded as `alert` points for dashboards (every change of state or severity).
_POINT_EVENTS = {"opened", "fired", "upgraded", "resolved", "discarded", "acknowledged"}


class AlertManager:
    """Alert lifecycle over a persistent book; thread-safe; survives restarts."""

    def __init__(
        self,
        settings: AlertSettings,
        plants: Sequence[Plant],
        state_dir: Path,
        publish: Publish | None = None,
        record_points: Callable[[list[str]], None] | None = None,
        lang: str | None = None,
        rng: random.Random | None = None,
        clusters: Sequence[ClusterLayout] = (),
    ) -> None:
        if lang is not None and lang not in LANGS:
            raise AlertsError(f"unknown language {lang!r} (use vi or en)")
        self.settings = settings
        self._plants = {plant.id: plant for plant in plants}
        # Collection findings of a cluster without a central WWTP are filed under its id.
        self._places = {c.id: (c.name, c.zone) for c in clusters
                        if c.central is None and c.id not in self._plants}
        self._book = Book(state_dir)
        self._outbox = Outbox(self._book, settings.outbox, rng)
        self._messages = Messages({str(k): v for k, v in settings.templates.items()})
        self._record_points = record_points
        self._lang = lang
        self._channels: dict[str, Channel] = build_channels(
            settings.channels, publish, self._book.plant_state
        )
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wakes: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    # -- properties for the wiring and tests ---------------------------------------------

    @property
    def book(self) -> Book:
        return self._book

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self._channels

    # -- what the collector calls ----------------------------------------------------------

    def observe(
        self,
        findings: Sequence[Finding],
        scope: Collection[ScopeKey],
        now: datetime,
        values: Mapping[ScopeKey, float] | None = None,
        bases: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> None:
        """Findings of one evaluation.

        `scope`: (plant, station, parameter) keys the evaluation covered and that had data; an
        open alert in scope without a finding clears (with hysteresis on `values`, the latest
        value per key). `bases`: the bases the evaluation checked (e.g. {"instantaneous"} for
        the per-batch check), so that it cannot clear an alert raised on an hourly mean;
        None = all. `kinds`: the finding kinds the evaluation can judge (None = all): a
        per-batch check cannot see a stuck sensor, so it must not clear a `sensor_fault`.
        Keys out of scope are left alone: a vanished series never resolves.
        """
        _aware(now)
        grouped: dict[tuple[str, str, str, str], list[Finding]] = {}
        for finding in findings:
            grouped.setdefault(finding.key, []).append(finding)
        in_scope = set(scope)
        changed: list[tuple[Alert, Step]] = []
        with self._lock, self._book.transaction() as conn:
            # Only keys in `grouped` or in scope are touched below: read just their plants.
            plants = {key[0] for key in grouped} | {key[0] for key in in_scope}
            current = self._book.open_alerts(conn, plants)
            for key, batch in grouped.items():
                alert = current.get(key)
                if alert is None:
                    batch = self._new_episode_only(conn, key, batch, now)
                # Ascending severity: upgrades are monotone and the stored value is the worst.
                for finding in sorted(batch, key=lambda f: severity_rank(f.severity)):
                    ctx = self._context(conn, key, now)
                    step = on_breach(alert, finding, self._cluster(finding.plant), ctx)
                    alert = self._apply(conn, step, now, changed)
            for key, alert in current.items():
                if key in grouped or alert.scope_key not in in_scope:
                    continue
                if kinds is not None and alert.kind not in kinds:
                    continue
                value = None if values is None else values.get(alert.scope_key)
                step = on_clear(alert, bases, value, self._context(conn, key, now))
                self._apply(conn, step, now, changed)
        self._after_commit(changed, now)

    def _new_episode_only(
        self, conn: sqlite3.Connection, key: tuple[str, str, str, str],
        batch: list[Finding], now: datetime,
    ) -> list[Finding]:
        """Drop findings that describe the key's last, already resolved episode.

        An hourly mean is judged only once its hour is over, often after the per-reading
        check has already resolved the same breach; such a finding starts before that
        episode's data ended and must not open (and notify) a second alert.
        """
        prior = self._book.last_resolved(conn, key)
        if prior is None:
            return batch
        late = [f for f in batch if f.start < prior.last_end]
        if late:
            self._book.record(conn, prior, [Transition(
                "merged", "resolved", "resolved",
                f"{len(late)} later finding(s) of the same episode ({late[0].basis})",
            )], now)
        return [f for f in batch if f.start >= prior.last_end]

    def tick(self, now: datetime) -> None:
        """Time-driven changes: pending → firing, flap holds, renotify, escalation, end of
        maintenance; without started workers it also delivers due notifications."""
        _aware(now)
        changed: list[tuple[Alert, Step]] = []
        with self._lock, self._book.transaction() as conn:
            fired = self._book.fired_counts(conn, now - timedelta(hours=1))
            for key, alert in self._book.open_alerts(conn).items():
                ctx = self._context(conn, key, now, alert, fired=fired.get(key, 0))
                self._apply(conn, on_tick(alert, ctx), now, changed)
        self._after_commit(changed, now)
        if not self._threads:
            self.deliver(now)

    def ack(
        self, alert_id: str, by: str, note: str | None, now: datetime, reason: str | None = None
    ) -> Alert:
        """Acknowledge an alert: recorded with who/when/reason/note; stops renotify and
        escalation. `reason` is a code of `alerts.alert.ACK_REASONS` (`other` needs a note)."""
        _aware(now)
        if not by.strip():
            raise AlertsError("an acknowledgement needs a name (--by NAME)")
        check_ack_reason(reason, note)
        changed: list[tuple[Alert, Step]] = []
        with self._lock, self._book.transaction() as conn:
            alert = self._book.find(conn, alert_id)
            step = on_ack(alert, by.strip(), note, self._context(conn, alert.key, now), reason)
            saved = self._apply(conn, step, now, changed)
        self._after_commit(changed, now)
        if saved is None:
            raise AlertsError(f"alert {alert_id} could not be acknowledged")
        return saved

    def handle_ack_message(self, topic: str, payload: bytes, now: datetime) -> Alert:
        """An acknowledgement over MQTT: a plant's `alerts/ack` topic (rules.topics), payload
        `{"id": "A-000123", "by": "name", "note": "optional", "reason": "optional"}`
        (`reason`: a code of `alerts.alert.ACK_REASONS`)."""
        try:
            ack = parse(topic)
        except TopicError as exc:
            raise AlertsError(f"not an acknowledgement topic: {topic!r}") from exc
        if ack.kind != "ack":
            raise AlertsError(f"not an acknowledgement topic: {topic!r}")
        cluster, plant = ack.cluster, ack.plant
        try:
            message = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AlertsError(f"{topic}: acknowledgement is not JSON: {exc}") from exc
        if not isinstance(message, dict):
            raise AlertsError(f"{topic}: acknowledgement must be a JSON object")
        ident, by, note = message.get("id"), message.get("by"), message.get("note")
        if not isinstance(ident, str) or not isinstance(by, str) or not by.strip():
            raise AlertsError(f"{topic}: acknowledgement needs string fields id and by")
        if note is not None and not isinstance(note, str):
            raise AlertsError(f"{topic}: acknowledgement note must be a string")
        reason = message.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise AlertsError(f"{topic}: acknowledgement reason must be a string")
        alert = self._book.get(ident)
        if alert.plant != plant or alert.cluster != cluster:
            raise AlertsError(f"{topic}: alert {alert.id} belongs to {alert.cluster}/{alert.plant}")
        return self.ack(ident, by, note, now, reason)

    def list_alerts(
        self, open_only: bool = False, plants: Collection[str] | None = None, limit: int = 500
    ) -> list[Alert]:
        """Newest first; of `plants` only when given."""
        return self._book.list_alerts(open_only=open_only, limit=limit, plants=plants)

    def get(self, alert_id: str) -> Alert:
        """One alert by id (AlertsError when there is none)."""
        return self._book.get(alert_id)

    def histories(self, alert_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
        """The history of each alert (transitions and deliveries), oldest first."""
        transitions = self._book.transitions_of(alert_ids)
        deliveries: dict[str, list[dict[str, object]]] = {}
        for row in self._outbox.deliveries(alert_ids):
            deliveries.setdefault(str(row["alert_id"]), []).append(row)
        return {
            ident: merge_history(transitions.get(ident, []), deliveries.get(ident, []))
            for ident in alert_ids
        }

    def change_marker(self) -> int:
        """Grows with every change of the book (see `Book.change_marker`)."""
        return self._book.change_marker()

    # -- delivery -------------------------------------------------------------------------

    def recover(self, now: datetime) -> int:
        """Deal with notifications interrupted by a crash (see `OutboxSettings.interrupted`)."""
        return self._outbox.recover(now)

    def deliver(self, now: datetime, only: str | None = None) -> int:
        """One synchronous delivery pass over due notifications; returns how many went out."""
        return self._outbox.deliver(self._channels, now, only)

    def start(self) -> None:
        """Recover interrupted sends, then start one delivery worker per channel (a slow
        SMTP server then cannot delay the terminal or MQTT)."""
        if self._threads:
            return
        self._stop.clear()
        self.recover(datetime.now(UTC))
        for name in self._channels:
            wake = threading.Event()
            self._wakes[name] = wake
            thread = threading.Thread(
                target=self._work, args=(name, wake), name=f"alerts-{name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        """Stop the workers (a send in progress finishes within its channel timeout)."""
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads.clear()
        self._wakes.clear()

    def _work(self, name: str, wake: threading.Event) -> None:
        """Deliver until closed: pass after pass while rows keep coming (a storm), else sleep
        until `observe` wakes us or the poll interval ends (retries, renotifies)."""
        try:
            while not self._stop.is_set():
                wake.clear()  # before the pass: a wake during it is not lost
                busy = False
                try:
                    busy = self._outbox.deliver_pass(
                        self._channels, datetime.now(UTC), only=name
                    ).more
                except Exception:  # isolate: a broken pass must not end deliveries for good
                    log.exception("alert delivery via %s failed; retrying", name)
                if not busy:
                    wake.wait(_POLL_S)
        finally:
            self._book.release()

    # -- internals ----------------------------------------------------------------------

    def _cluster(self, plant: str) -> str:
        known = self._plants.get(plant)
        return known.cluster if known else plant

    def _context(
        self,
        conn: sqlite3.Connection,
        key: tuple[str, str, str, str],
        now: datetime,
        alert: Alert | None = None,
        fired: int | None = None,
    ) -> Context:
        plant, station, parameter, _ = key
        if fired is None:
            fired = self._book.fired_since(conn, key, now - timedelta(hours=1))
        return Context(
            now=now,
            settings=self.settings,
            maintenance=self.settings.maintenance_reason(plant, station, parameter, now),
            flapping=fired >= self.settings.flap_max_per_hour,
            can_escalate=alert is not None and can_escalate(alert, self.settings),
        )

    def _apply(
        self,
        conn: sqlite3.Connection,
        step: Step,
        now: datetime,
        changed: list[tuple[Alert, Step]],
    ) -> Alert | None:
        """Store one lifecycle step: alert row, transitions and outbox rows, in `conn`'s
        transaction, so a notification exists exactly when its transition does."""
        if step.alert is None:
            return None
        try:
            saved = self._book.save(conn, step.alert)
        except sqlite3.IntegrityError as exc:
            raise AlertsError(f"alert book refused {step.alert.key}: {exc}") from exc
        if step.transitions:
            self._book.record(conn, saved, step.transitions, now)
        notifications = [n for event in step.notify for n in self._render(saved, event, now)]
        if notifications:
            self._outbox.enqueue(conn, notifications, now)
        changed.append((saved, step))
        return saved

    def _render(self, alert: Alert, event: str, now: datetime) -> list[Notification]:
        plant = self._plants.get(alert.plant)
        place = self._places.get(alert.plant)
        data = alert_event(alert, event, now,
                           plant.zone if plant else place[1] if place else None)
        rendered: dict[str, tuple[str, str]] = {}
        result = []
        for target in targets(alert, event, self.settings, self._lang):
            if target.lang not in rendered:
                rendered[target.lang] = self._messages.render(alert, event, target.lang, plant,
                                                              now, place)
            subject, text = rendered[target.lang]
            result.append(
                Notification(
                    alert_id=alert.id,
                    event=event,
                    channel=target.channel,
                    cluster=alert.cluster,
                    plant=alert.plant,
                    lang=target.lang,
                    subject=subject,
                    text=text,
                    data=data,
                    route=target.route,
                    failover=target.failover,
                )
            )
        return result

    def _after_commit(self, changed: list[tuple[Alert, Step]], now: datetime) -> None:
        if any(step.notify for _, step in changed):
            for wake in self._wakes.values():
                wake.set()
        if self._record_points is None:
            return
        lines = [
            alert_line(alert, now)
            for alert, step in changed
            if any(t.event in _POINT_EVENTS for t in step.transitions)
        ]
        if lines:
            try:
                self._record_points(lines)
            except Exception:  # dashboards must never stop alerting
                log.exception("could not record %d alert points", len(lines))


def _aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise AlertsError("`now` must be timezone-aware")


def render_alert_table(alerts: Sequence[Alert], zone: str | None = None) -> str:
    """The `quantrac alerts list` table: one line per alert, aligned columns."""
    if not alerts:
        return "no alerts"
    header = (
        "ID",
        "STATE",
        "SEVERITY",
        "PLANT",
        "STATION",
        "PARAMETER",
        "KIND",
        "VALUE",
        "LIMIT",
        "SINCE",
        "ACK",
    )

    def since(alert: Alert) -> str:
        moment = alert.started_at
        if zone:
            moment = moment.astimezone(ZoneInfo(zone))
        return moment.strftime("%Y-%m-%d %H:%M%z")

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    rows = [header]
    for a in alerts:
        state = a.state + (" (maint.)" if a.suppressed else "") + (" (flap)" if a.flapping else "")
        ack = (a.acked_by + (f" ({a.ack_reason})" if a.ack_reason else "")) if a.acked_by else "-"
        rows.append(
            (
                a.id,
                state,
                a.severity,
                a.plant,
                a.station,
                a.parameter,
                a.kind,
                number(a.value),
                number(a.limit),
                since(a),
                ack,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )
