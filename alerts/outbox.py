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
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from alerts.book import Book, format_time
from alerts.errors import ChannelError
from alerts.notification import Notification
from alerts.settings import OutboxSettings

log = logging.getLogger(__name__)

PASS_LIMIT = 50  # rows per delivery pass
BATCH_MAX = 50  # rows per claimed batch
BATCH_BUDGET_S = 0.05  # a batch is what the channel sends in about this long

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


class Pass(NamedTuple):
    """What one delivery pass did."""

    sent: int
    handled: int  # sent or failed
    more: bool  # stopped early (its limit, a slow send): more rows may be due


class Outbox:
    """Persistent, audited delivery queue sharing the alert book's database."""

    def __init__(
        self, book: Book, settings: OutboxSettings, rng: random.Random | None = None
    ) -> None:
        self._book = book
        self._settings = settings
        self._rng = rng or random.Random()
        self._pace: dict[str, float] = {}  # channel → smoothed seconds per send
        book.schema(_SCHEMA)

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
        rows = self._due(self._book.connection(), now, channel, limit)
        return [_notification(row) for row in rows]

    def deliver(
        self, channels: Mapping[str, Sender], now: datetime, only: str | None = None
    ) -> int:
        """One pass over due rows: claim, send, record. Returns how many were sent."""
        return self.deliver_pass(channels, now, only).sent

    def deliver_pass(
        self,
        channels: Mapping[str, Sender],
        now: datetime,
        only: str | None = None,
        limit: int = PASS_LIMIT,
    ) -> Pass:
        """Up to `limit` due rows, in batches: claim a batch in one transaction (all
        `sending`), send its rows one by one, record their outcomes in one transaction.

        A batch is as large as the channel sends in ~`BATCH_BUDGET_S` (measured), so a slow
        channel (SMTP) still claims one row at a time and a crash leaves at most one budget's
        worth of rows `sending`. `Pass.more` says the pass stopped before running out of rows.
        """
        sent = handled = 0
        more = False
        while handled < limit:
            size = min(limit - handled, self._batch_size(only))
            batch = self._claim_batch(now, only, size)
            if not batch:
                break
            done, cut = self._send_batch(channels, batch, now)
            sent += sum(1 for _, error in done if error is None)
            handled += len(done)
            if cut or len(batch) < size:
                more = cut
                break
        else:
            more = True
        return Pass(sent=sent, handled=handled, more=more)

    def rows(self, alert_id: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows (for inspection and tests), oldest first."""
        where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id else ("", [])
        conn = self._book.connection()
        rows = conn.execute(f"SELECT * FROM outbox {where} ORDER BY seq", params).fetchall()
        return [dict(row) for row in rows]

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
        rows = self._book.connection().execute(sql + " ORDER BY a.seq", params).fetchall()
        return [dict(row) for row in rows]

    def deliveries(self, alert_ids: Collection[str]) -> list[dict[str, Any]]:
        """Each notification row of these alerts with its outcome so far (status, sent_at, the
        time of its last attempt, last error), oldest first: for alert histories."""
        sql = (
            "SELECT o.alert_id, o.event, o.channel, o.status, o.sent_at, o.last_error, "
            "MAX(a.at) AS last_at FROM outbox o LEFT JOIN attempts a ON a.outbox_seq = o.seq "
            "WHERE o.alert_id IN (SELECT value FROM json_each(?)) GROUP BY o.seq ORDER BY o.seq"
        )
        conn = self._book.connection()
        rows = conn.execute(sql, (json.dumps(sorted(set(alert_ids))),)).fetchall()
        return [dict(row) for row in rows]

    def backoff(self, attempts: int) -> timedelta:
        """Delay before retry number `attempts`: base·2^(n-1), capped, times a jitter in
        [0.5, 1) so that many failed rows do not retry in lockstep."""
        raw = self._settings.backoff_base_s * 2 ** max(0, attempts - 1)
        capped = min(self._settings.backoff_max_s, raw)
        return timedelta(seconds=capped * (0.5 + 0.5 * self._rng.random()))

    # -- row transitions ----------------------------------------------------------------

    def _claim(self, n: Notification) -> bool:
        """Claim one known row (the batched path is `_claim_batch`)."""
        with self._book.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET status = 'sending' WHERE seq = ? AND status = 'pending'",
                (n.outbox_id,),
            )
            return cursor.rowcount == 1

    def _claim_batch(
        self, now: datetime, channel: str | None, size: int
    ) -> list[tuple[Notification, int]]:
        """Due rows marked (and committed) `sending` before any send, with their attempt
        counts: a crash during the sends leaves them `sending` for `recover`. The IMMEDIATE
        transaction holds the write lock from select to update, so no other worker or
        process can claim the same row."""
        conn = self._book.connection()
        if not self._due(conn, now, channel, 1):  # idle: no write lock for nothing
            return []
        with self._book.transaction() as conn:
            rows = self._due(conn, now, channel, size)
            claims = [(row["seq"],) for row in rows]
            conn.executemany("UPDATE outbox SET status = 'sending' WHERE seq = ?", claims)
        return [(_notification(row), int(row["attempts"])) for row in rows]

    def _send_batch(
        self,
        channels: Mapping[str, Sender],
        batch: list[tuple[Notification, int]],
        now: datetime,
    ) -> tuple[list[tuple[Notification, str | None]], bool]:
        """Send claimed rows in order; outcomes are committed together at the end, or as soon
        as the sends have taken longer than the budget (then the rest of the batch is handed
        back to `pending` and `cut` is True). Returns (row, error or None) per sent row."""
        began = time.monotonic()
        done: list[tuple[Notification, str | None]] = []
        attempts = {n.outbox_id: count for n, count in batch}
        cut = False
        for index, (notification, _) in enumerate(batch):
            started = time.monotonic()
            error = self._send(channels, notification)
            self._learn(notification.channel, time.monotonic() - started)
            done.append((notification, error))
            if time.monotonic() - began > BATCH_BUDGET_S and index + 1 < len(batch):
                cut = True
                break
        rest = [n for n, _ in batch[len(done) :]]
        with self._book.transaction() as conn:
            sent = [n for n, error in done if error is None]
            if sent:
                stamp = format_time(now)
                conn.executemany(
                    "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                    "last_error = NULL WHERE seq = ?",
                    [(stamp, n.outbox_id) for n in sent],
                )
                conn.executemany(
                    "INSERT INTO attempts (outbox_seq, at, channel, outcome, error) "
                    "VALUES (?, ?, ?, 'sent', NULL)",
                    [(n.outbox_id, stamp, n.channel) for n in sent],
                )
            for n, error in done:
                if error is not None:
                    self._failed(conn, n, attempts[n.outbox_id] + 1, error, now)
            if rest:  # never tried: back to the queue, as if never claimed
                conn.executemany(
                    "UPDATE outbox SET status = 'pending' WHERE seq = ? AND status = 'sending'",
                    [(n.outbox_id,) for n in rest],
                )
        return done, cut

    def _send(self, channels: Mapping[str, Sender], notification: Notification) -> str | None:
        """One send; the error text, or None when it went out."""
        channel = channels.get(notification.channel)
        try:
            if channel is None:
                raise ChannelError(f"no channel named {notification.channel!r} is configured")
            channel.send(notification)
        except ChannelError as exc:
            error = str(exc)
        except Exception as exc:  # a channel bug must not kill the worker: record it
            log.exception("channel %s crashed", notification.channel)
            error = f"{type(exc).__name__}: {exc}"
        else:
            return None
        log.warning(
            "alert %s: %s via %s failed: %s",
            notification.alert_id,
            notification.event,
            notification.channel,
            error,
        )
        return error

    def _batch_size(self, channel: str | None) -> int:
        """Rows per batch: what the channel(s) send within the budget; 1 until measured."""
        if channel is not None:
            pace = self._pace.get(channel)
        else:  # a mixed pass: the slowest channel sets the pace
            pace = max(self._pace.values(), default=None)
        if pace is None:
            return 1
        return max(1, min(BATCH_MAX, int(BATCH_BUDGET_S / max(pace, 1e-6))))

    def _learn(self, channel: str, seconds: float) -> None:
        known = self._pace.get(channel)
        self._pace[channel] = seconds if known is None else 0.8 * known + 0.2 * seconds

    @staticmethod
    def _due(
        conn: sqlite3.Connection, now: datetime, channel: str | None, limit: int
    ) -> list[sqlite3.Row]:
        # A row never tried is due at once: `now` of the transition may come from a clock
        # (e.g. a simulated one) ahead of the worker's.
        sql = "SELECT * FROM outbox WHERE status = 'pending' AND (attempts = 0 OR next_at <= ?)"
        params: list[Any] = [format_time(now)]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return conn.execute(sql, params).fetchall()

    def _failed(
        self, conn: sqlite3.Connection, n: Notification, attempts: int, error: str, now: datetime
    ) -> None:
        """Record failed attempt number `attempts` in `conn`'s transaction: retry later, fail
        over, or give up."""
        self._attempt(conn, n.outbox_id, n.channel, "error", error, now)
        if n.failover and attempts >= self._settings.failover_after:
            status = "failed_over"
            self.enqueue(conn, [replace(n, channel=n.failover, failover=None)], now)
            self._attempt(conn, n.outbox_id, n.channel, "failover", f"to {n.failover}", now)
        elif attempts >= self._settings.max_attempts:
            status = "dead"
        else:
            status = "pending"
        conn.execute(
            "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_at = ? WHERE seq = ?",
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
