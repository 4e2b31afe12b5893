"""The console's own SQLite file (WAL) in the state directory: accounts, API tokens, sessions,
failed sign-ins and the audit log. `quantrac users` and `quantrac web` share it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import ConsoleError

FILENAME = "console.sqlite"
# Wait for another process's write lock instead of failing; WAL makes NORMAL sync durable
# enough for sessions and accounts (a power cut may lose the last commit, not the file).
_PRAGMAS = ("busy_timeout=10000", "synchronous=NORMAL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'regulator', 'operator')),
    plants TEXT NOT NULL DEFAULT '[]', clusters TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL, used_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users (name),
    csrf TEXT NOT NULL, created_at TEXT NOT NULL, seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, name TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures (name, at);
CREATE INDEX IF NOT EXISTS login_failures_address ON login_failures (address, at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
    actor TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
"""


def stamp(moment: datetime) -> str:
    """Aware time → fixed-width UTC text (orders correctly as text)."""
    if moment.tzinfo is None:
        raise ConsoleError("console times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class Database:
    """One connection per thread (and process); `write()` is a `BEGIN IMMEDIATE` transaction."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / FILENAME
        self._local = threading.local()
        # Accounts and sessions are secrets' neighbours: readable by the service user only
        # (SQLite gives its -wal and -shm files the database file's mode).
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read and return all its rows."""
        return self._conn().execute(sql, params).fetchall()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (committed on success, rolled back on error)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _conn(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():  # a fork must not reuse the parent's
            held = (os.getpid(), self._connect())
            self._local.held = held
        conn: sqlite3.Connection = held[1]
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            for pragma in _PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:
            raise ConsoleError(f"cannot open the console database {self.path}: {exc}") from exc
        return conn
