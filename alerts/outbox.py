"""The notification outbox: rows in the alert book's SQLite file, enqueued in the same
transaction as the state change that caused them, delivered by the manager's workers.

Each row goes pending → sending → sent. A failed send goes back to pending with exponential
backoff and jitter; after `failover_after` failures it is handed to the route's failover
channel (status `failed_over`), after `max_attempts` without failover it is `dead`. Every
attempt is recorded in `attempts` (time, channel, outcome, error): the audit trail.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from alerts.book import Book, format_time
from alerts.errors import ChannelError
from alerts.notification import Notification
from alerts.settings import OutboxSettings

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL, event TEXT NOT NULL, channel TEXT NOT NULL,
    route TEXT NOT NULL DEFAULT '', failover TEXT,
    cluster TEXT NOT NULL, plant TEXT NOT NULL, lang TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'sending', 'sent', 'failed_over', 'dead', 'interrupted')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, next_at TEXT NOT NULL, sent_at TEXT, last_error TEXT,
    origin INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_seq INTEGER NOT NULL REFERENCES outbox (seq),
    at TEXT NOT NULL, channel TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_outbox ON attempts (outbox_seq);
"""


class Sender(Protocol):
    """What the outbox needs of a channel (see `alerts.channels.base.Channel`)."""

    name: str

    def send(self, notification: Notification) -> None: ...


class Outbox:
    """Persistent, audited delivery queue sharing the alert book's database."""

    def __init__(
        self, book: Book, settings: OutboxSettings, rng: random.Random | None = None
    ) -> None:
        self._book = book
        self._settings = settings
        self._rng = rng or random.Random()
        with book.connect() as conn:
            conn.executescript(_SCHEMA)

    def enqueue(
        self, conn: sqlite3.Connection, notifications: Sequence[Notification], now: datetime
    ) -> None:
        """Add rows inside the caller's transaction (the one that changed the alert)."""
        stamp = format_time(now)
        conn.executemany(
            "INSERT INTO outbox (alert_id, event, channel, route, failover, cluster, plant, "
            "lang, body, status, created_at, next_at, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            [
                (
                    n.alert_id,
                    n.event,
                    n.channel,
                    n.route,
                    n.failover,
                    n.cluster,
                    n.plant,
                    n.lang,
                    n.to_row_json(),
                    stamp,
                    stamp,
                    n.outbox_id or None,
                )
                for n in notifications
            ],
        )

    def recover(self, now: datetime) -> int:
        """After a restart: rows left `sending` were interrupted mid-send. Depending on
        `outbox.interrupted` they are skipped (at most once) or sent again (at least once)."""
        status = "pending" if self._settings.interrupted == "resend" else "interrupted"
        with self._book.transaction() as conn:
            rows = conn.execute("SELECT seq, channel FROM outbox WHERE status = 'sending'")
            found = rows.fetchall()
            for seq, channel in found:
                conn.execute("UPDATE outbox SET status = ? WHERE seq = ?", (status, seq))
                self._attempt(conn, seq, channel, "interrupted", "process stopped during send", now)
        return len(found)

    def due(self, now: datetime, channel: str | None = None, limit: int = 50) -> list[Notification]:
        """Pending rows whose time has come, oldest first (optionally for one channel)."""
        # A row never tried is due at once: `now` of the transition may come from a clock
        # (e.g. a simulated one) ahead of the worker's.
        sql = "SELECT * FROM outbox WHERE status = 'pending' AND (attempts = 0 OR next_at <= ?)"
        params: list[Any] = [format_time(now)]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._book.connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_notification(row) for row in rows]

    def deliver(
        self, channels: Mapping[str, Sender], now: datetime, only: str | None = None
    ) -> int:
        """One pass over due rows: claim, send, record. Returns how many were sent."""
        sent = 0
        for notification in self.due(now, channel=only):
            if not self._claim(notification):
                continue  # another worker or process took it
            channel = channels.get(notification.channel)
            try:
                if channel is None:
                    raise ChannelError(f"no channel named {notification.channel!r} is configured")
                channel.send(notification)
            except ChannelError as exc:
                self._failed(notification, str(exc), now)
                continue
            except Exception as exc:  # a channel bug must not kill the worker: record it
                log.exception("channel %s crashed", notification.channel)
                self._failed(notification, f"{type(exc).__name__}: {exc}", now)
                continue
            self._sent(notification, now)
            sent += 1
        return sent

    def rows(self, alert_id: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows (for inspection and tests), oldest first."""
        where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id else ("", [])
        with self._book.connect() as conn:
            return [
                dict(row)
                for row in conn.execute(f"SELECT * FROM outbox {where} ORDER BY seq", params)
            ]

    def attempts(self, alert_id: str | None = None) -> list[dict[str, Any]]:
        """The audit trail: every delivery attempt with time, channel, outcome and error."""
        sql = (
            "SELECT a.at, a.channel, a.outcome, a.error, o.alert_id, o.event, o.seq AS outbox "
            "FROM attempts a JOIN outbox o ON o.seq = a.outbox_seq"
        )
        params: list[Any] = []
        if alert_id:
            sql += " WHERE o.alert_id = ?"
            params.append(alert_id)
        with self._book.connect() as conn:
            return [dict(row) for row in conn.execute(sql + " ORDER BY a.seq", params)]

    def backoff(self, attempts: int) -> timedelta:
        """Delay before retry number `attempts`: base·2^(n-1), capped, times a jitter in
        [0.5, 1) so that many failed rows do not retry in lockstep."""
        raw = self._settings.backoff_base_s * 2 ** max(0, attempts - 1)
        capped = min(self._settings.backoff_max_s, raw)
        return timedelta(seconds=capped * (0.5 + 0.5 * self._rng.random()))

    # -- row transitions ----------------------------------------------------------------

    def _claim(self, n: Notification) -> bool:
        # Marked (and committed) before the send: a crash during the send leaves `sending`.
        with self._book.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET status = 'sending' WHERE seq = ? AND status = 'pending'",
                (n.outbox_id,),
            )
            return cursor.rowcount == 1

    def _sent(self, n: Notification, now: datetime) -> None:
        with self._book.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                "last_error = NULL WHERE seq = ?",
                (format_time(now), n.outbox_id),
            )
            self._attempt(conn, n.outbox_id, n.channel, "sent", None, now)

    def _failed(self, n: Notification, error: str, now: datetime) -> None:
        log.warning("alert %s: %s via %s failed: %s", n.alert_id, n.event, n.channel, error)
        with self._book.transaction() as conn:
            row = conn.execute(
                "SELECT attempts FROM outbox WHERE seq = ?", (n.outbox_id,)
            ).fetchone()
            attempts = int(row[0]) + 1
            self._attempt(conn, n.outbox_id, n.channel, "error", error, now)
            if n.failover and attempts >= self._settings.failover_after:
                status = "failed_over"
                self.enqueue(
                    conn,
                    [replace(n, channel=n.failover, failover=None)],
                    now,
                )
                self._attempt(conn, n.outbox_id, n.channel, "failover", f"to {n.failover}", now)
            elif attempts >= self._settings.max_attempts:
                status = "dead"
            else:
                status = "pending"
            conn.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_at = ? "
                "WHERE seq = ?",
                (
                    status,
                    attempts,
                    error[:500],
                    format_time(now + self.backoff(attempts)),
                    n.outbox_id,
                ),
            )

    @staticmethod
    def _attempt(
        conn: sqlite3.Connection,
        seq: int,
        channel: str,
        outcome: str,
        error: str | None,
        now: datetime,
    ) -> None:
        conn.execute(
            "INSERT INTO attempts (outbox_seq, at, channel, outcome, error) VALUES (?, ?, ?, ?, ?)",
            (seq, format_time(now), channel, outcome, None if error is None else error[:500]),
        )


def _notification(row: sqlite3.Row) -> Notification:
    body = json.loads(row["body"])
    return Notification(
        alert_id=row["alert_id"],
        event=row["event"],
        channel=row["channel"],
        cluster=row["cluster"],
        plant=row["plant"],
        lang=row["lang"],
        subject=body["subject"],
        text=body["text"],
        data=body["data"],
        outbox_id=row["seq"],
        route=row["route"],
        failover=row["failover"],
    )
