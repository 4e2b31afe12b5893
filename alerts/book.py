"""The alert book: alerts and their transitions in SQLite (WAL) at `<state_dir>/alerts.sqlite`.

One long-lived connection per thread and Book (opening one costs ~0.5 ms and a storm makes
thousands of short calls); every state change runs inside `BEGIN IMMEDIATE`, so two threads,
two managers or the `quantrac alerts` command in another process serialise their changes, and
a UNIQUE partial index keeps one open alert per key even then.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.alert import Alert
from alerts.errors import AlertsError
from alerts.lifecycle import Transition
from alerts.settings import severity_rank
from rules.findings import CollectionNote

log = logging.getLogger(__name__)

FILENAME = "alerts.sqlite"
_ID_PREFIX = "A-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL, plant TEXT NOT NULL, station TEXT NOT NULL,
    parameter TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    severity TEXT NOT NULL, basis TEXT NOT NULL,
    value REAL, "limit" REAL, ratio REAL,
    started_at TEXT NOT NULL, last_end TEXT NOT NULL, opened_at TEXT NOT NULL,
    last_breach_at TEXT NOT NULL, breach_bases TEXT NOT NULL DEFAULT '',
    fired_at TEXT, announced_at TEXT, notified_at TEXT, notify_count INTEGER NOT NULL DEFAULT 0,
    escalated_at TEXT, clear_since TEXT, resolved_at TEXT,
    acked_by TEXT, acked_at TEXT, ack_note TEXT, ack_reason TEXT, suppressed TEXT,
    flapping INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open
    ON alerts (plant, station, parameter, kind) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_key_fired ON alerts (plant, station, parameter, kind, fired_at);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_seq INTEGER NOT NULL REFERENCES alerts (seq),
    at TEXT NOT NULL, event TEXT NOT NULL,
    from_state TEXT, to_state TEXT NOT NULL,
    severity TEXT NOT NULL, value REAL, detail TEXT NOT NULL DEFAULT '',
    reason TEXT
);
CREATE INDEX IF NOT EXISTS transitions_alert ON transitions (alert_seq);
"""
# Columns added after the first release: (table, column, declaration). A book written by an
# older version gets them on open; older versions still read a newer book (they select by
# name and ignore columns they do not know).
_ADDED_COLUMNS = (
    ("alerts", "ack_reason", "TEXT"),
    ("transitions", "reason", "TEXT"),
    ("alerts", "explanation", "TEXT"),  # rules.findings.CollectionNote as JSON
)

_COLUMNS = [f.name for f in fields(Alert) if f.name != "id"]
_TIME_COLUMNS = {
    "started_at",
    "last_end",
    "opened_at",
    "last_breach_at",
    "fired_at",
    "announced_at",
    "notified_at",
    "escalated_at",
    "clear_since",
    "resolved_at",
    "acked_at",
}


def format_time(value: datetime) -> str:
    """Aware datetime → fixed-width UTC text, so SQL comparisons order correctly."""
    if value.tzinfo is None:
        raise AlertsError("times stored in the alert book must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def alert_id(seq: int) -> str:
    """Row number → short stable id, e.g. 123 → "A-000123"."""
    return f"{_ID_PREFIX}{seq:06d}"


def alert_seq(text: str) -> int:
    """ "A-000123" (or "a-123", or "123") → 123; raises AlertsError on anything else."""
    raw = text.strip().upper()
    raw = raw.removeprefix(_ID_PREFIX)
    if not raw.isdigit():
        raise AlertsError(f"bad alert id {text!r} (expected e.g. A-000123)")
    return int(raw)


class Book:
    """SQLite-backed store of alerts and transitions; also hosts the outbox tables."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / FILENAME
        self._local = threading.local()  # per thread: (pid, connection)
        # A short-lived connection for the schema: the constructing thread keeps none open.
        conn = self._open()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            _migrate(conn)
        finally:
            conn.close()

    def connection(self) -> sqlite3.Connection:
        """This thread's long-lived connection (autocommit; use `transaction()` for changes).

        Reads outside a transaction must consume their rows (`fetchall`): an unfinished
        statement would keep a read snapshot open on the shared connection.
        """
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            conn: sqlite3.Connection = held[1]
            return conn
        # None yet, or inherited over a fork (never use that one: SQLite forbids it).
        conn = self._open()
        self._local.held = (os.getpid(), conn)
        return conn

    def schema(self, script: str) -> None:
        """Create tables of a module sharing this file (the outbox), if missing."""
        conn = self._open()
        try:
            conn.executescript(script)
        finally:
            conn.close()

    def release(self) -> None:
        """Close the calling thread's connection (a worker thread that ends calls it; any
        later call opens a new one)."""
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            held[1].close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT` (rolled back on error): the unit of every state change.

        IMMEDIATE takes the write lock up front, so read-then-write sequences of two threads or
        processes never interleave. Not reentrant: a nested call raises AlertsError.
        """
        conn = self.connection()
        if conn.in_transaction:
            raise AlertsError("alert book transactions do not nest")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("alert book rollback failed; reopening the connection")
            self.release()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise AlertsError(f"cannot open alert book {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # -- reads and writes inside a transaction -------------------------------------------

    def open_alerts(
        self, conn: sqlite3.Connection, plants: Collection[str] | None = None
    ) -> dict[tuple[str, str, str, str], Alert]:
        """Pending and firing alerts by key; of `plants` only when given (an evaluation covers
        a few plants, while a storm can leave thousands of alerts open: reading and parsing
        all of them in every `observe` held the write lock for tens of ms)."""
        if plants is None:
            rows = conn.execute(
                "SELECT * FROM alerts WHERE state != 'resolved' ORDER BY seq"
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM alerts WHERE state != 'resolved' "
                "AND plant IN (SELECT value FROM json_each(?)) ORDER BY seq",
                (json.dumps(sorted(set(plants))),),
            ).fetchall()
        return {alert.key: alert for alert in map(_alert_from_row, rows)}

    def find(self, conn: sqlite3.Connection, ident: str) -> Alert:
        row = conn.execute("SELECT * FROM alerts WHERE seq = ?", (alert_seq(ident),)).fetchone()
        if row is None:
            raise AlertsError(f"no alert with id {ident!r} (see `quantrac alerts list`)")
        return _alert_from_row(row)

    def save(self, conn: sqlite3.Connection, alert: Alert) -> Alert:
        """Insert a new alert (empty id) or update a stored one; returns it with its id."""
        values = [_to_sql(name, getattr(alert, name)) for name in _COLUMNS]
        if not alert.id:
            cols = ", ".join(f'"{c}"' for c in _COLUMNS)
            marks = ", ".join("?" for _ in _COLUMNS)
            cursor = conn.execute(f"INSERT INTO alerts ({cols}) VALUES ({marks})", values)
            if cursor.lastrowid is None:
                raise AlertsError("alert book insert returned no row id")
            return alert.evolve(id=alert_id(cursor.lastrowid))
        sets = ", ".join(f'"{c}" = ?' for c in _COLUMNS)
        conn.execute(f"UPDATE alerts SET {sets} WHERE seq = ?", [*values, alert_seq(alert.id)])
        return alert

    def record(
        self,
        conn: sqlite3.Connection,
        alert: Alert,
        transitions: Sequence[Transition],
        now: datetime,
    ) -> None:
        conn.executemany(
            "INSERT INTO transitions (alert_seq, at, event, from_state, to_state, severity, "
            "value, detail, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    alert_seq(alert.id),
                    format_time(now),
                    t.event,
                    t.from_state,
                    t.to_state,
                    alert.severity,
                    alert.value,
                    t.detail,
                    t.reason,
                )
                for t in transitions
            ],
        )

    def last_resolved(
        self, conn: sqlite3.Connection, key: tuple[str, str, str, str]
    ) -> Alert | None:
        """The most recent resolved alert of this key, if any."""
        row = conn.execute(
            "SELECT * FROM alerts WHERE plant = ? AND station = ? AND parameter = ? AND kind = ? "
            "AND state = 'resolved' ORDER BY seq DESC LIMIT 1",
            key,
        ).fetchone()
        return None if row is None else _alert_from_row(row)

    def fired_counts(
        self, conn: sqlite3.Connection, since: datetime
    ) -> dict[tuple[str, str, str, str], int]:
        """`fired_since` for every key at once (one query per tick instead of one per alert)."""
        rows = conn.execute(
            "SELECT plant, station, parameter, kind, COUNT(*) FROM alerts WHERE fired_at >= ? "
            "GROUP BY plant, station, parameter, kind",
            (format_time(since),),
        ).fetchall()
        return {(r[0], r[1], r[2], r[3]): int(r[4]) for r in rows}

    def fired_since(
        self, conn: sqlite3.Connection, key: tuple[str, str, str, str], since: datetime
    ) -> int:
        """How many episodes of this key fired at or after `since` (flap detection)."""
        row = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE plant = ? AND station = ? AND parameter = ? "
            "AND kind = ? AND fired_at >= ?",
            (*key, format_time(since)),
        ).fetchone()
        return int(row[0])

    # -- plain reads ----------------------------------------------------------------------

    def list_alerts(
        self, open_only: bool = False, limit: int = 500, plants: Collection[str] | None = None
    ) -> list[Alert]:
        """Newest first; `open_only` keeps pending and firing alerts, `plants` those plants."""
        where = ["state != 'resolved'"] if open_only else []
        params: list[Any] = []
        if plants is not None:
            where.append("plant IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(set(plants))))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self.connection()
            .execute(f"SELECT * FROM alerts {clause} ORDER BY seq DESC LIMIT ?", (*params, limit))
            .fetchall()
        )
        return [_alert_from_row(row) for row in rows]

    def episodes(self, plant: str, start: datetime, end: datetime) -> list[Alert]:
        """The plant's alerts that overlap `[start, end)` (open ones included), oldest first:
        what a compliance report of that period lists."""
        rows = (
            self.connection()
            .execute(
                "SELECT * FROM alerts WHERE plant = ? AND started_at < ? "
                "AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY started_at, seq",
                (plant, format_time(end), format_time(start)),
            )
            .fetchall()
        )
        return [_alert_from_row(row) for row in rows]

    def change_marker(self) -> int:
        """A number that grows with every recorded change (new alert, transition): readers
        that poll for news (the console's live alerts page) compare it with the last one."""
        row = self.connection().execute("SELECT MAX(seq) FROM transitions").fetchone()
        return int(row[0] or 0)

    def get(self, ident: str) -> Alert:
        return self.find(self.connection(), ident)

    def transitions(self, ident: str) -> list[dict[str, Any]]:
        """The recorded history of one alert, oldest first."""
        return self.transitions_of([ident]).get(alert_id(alert_seq(ident)), [])

    def transitions_of(self, idents: Collection[str]) -> dict[str, list[dict[str, Any]]]:
        """The recorded histories of several alerts (one query), oldest first, by alert id."""
        seqs = sorted({alert_seq(ident) for ident in idents})
        rows = (
            self.connection()
            .execute(
                "SELECT alert_seq, at, event, from_state, to_state, severity, value, detail, "
                "reason FROM transitions WHERE alert_seq IN (SELECT value FROM json_each(?)) "
                "ORDER BY seq",
                (json.dumps(seqs),),
            )
            .fetchall()
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            record = dict(row)
            out.setdefault(alert_id(record.pop("alert_seq")), []).append(record)
        return out

    def plant_state(self, plant: str, now: datetime) -> dict[str, Any]:
        """The retained MQTT state of one plant: a summary of its open alerts."""
        rows = (
            self.connection()
            .execute(
                "SELECT * FROM alerts WHERE plant = ? AND state != 'resolved' ORDER BY seq",
                (plant,),
            )
            .fetchall()
        )
        alerts = [_alert_from_row(row) for row in rows]
        firing = [a for a in alerts if a.state == "firing"]
        worst = max((a.severity for a in firing), key=severity_rank, default=None)
        return {
            "plant": plant,
            "time": now.isoformat(),
            "status": "alarm" if firing else "ok",
            "firing": len(firing),
            "pending": len(alerts) - len(firing),
            "unacknowledged": sum(1 for a in firing if not a.acknowledged),
            "worst_severity": worst,
            "alerts": [
                {
                    "id": a.id,
                    "station": a.station,
                    "parameter": a.parameter,
                    "kind": a.kind,
                    "state": a.state,
                    "severity": a.severity,
                    "value": a.value,
                    "limit": a.limit,
                    "since": a.started_at.isoformat(),
                    "acknowledged": a.acknowledged,
                    "suppressed": a.suppressed,
                }
                for a in alerts
            ],
        }


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns of `_ADDED_COLUMNS` that an older book lacks (under the write lock, so
    two processes opening the same old book at once do not both add them)."""
    def missing() -> list[tuple[str, str, str]]:
        have = {
            (table, row[1])
            for table in {t for t, _, _ in _ADDED_COLUMNS}
            for row in conn.execute(f"PRAGMA table_info({table})").fetchall()
        }
        return [added for added in _ADDED_COLUMNS if (added[0], added[1]) not in have]

    if not missing():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in missing():
            conn.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {declaration}')
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _to_sql(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIME_COLUMNS:
        return format_time(value)
    if name == "breach_bases":
        return ",".join(sorted(value))
    if name == "flapping":
        return int(value)
    if name == "explanation":
        return json.dumps(value.to_json())
    return value


def _alert_from_row(row: sqlite3.Row) -> Alert:
    values: dict[str, Any] = {}
    for name in _COLUMNS:
        raw = row[name]
        if name in _TIME_COLUMNS:
            values[name] = None if raw is None else parse_time(raw)
        elif name == "breach_bases":
            values[name] = frozenset(b for b in (raw or "").split(",") if b)
        elif name == "flapping":
            values[name] = bool(raw)
        elif name == "explanation":
            values[name] = None if raw is None else CollectionNote.from_json(json.loads(raw))
        else:
            values[name] = raw
    return Alert(id=alert_id(row["seq"]), **values)
