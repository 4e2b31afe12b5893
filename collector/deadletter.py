"""Dead letters: messages that broke the wire format, kept with their reason and topic."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from collector import statedb
from collector.errors import CollectorError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
)
"""
# Keep the head of oversized payloads only: enough to diagnose, bounded on disk.
MAX_STORED_PAYLOAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at: str
    topic: str
    reason: str
    payload: bytes


class DeadLetterStore:
    """Append-only SQLite table `dead_letter` in `<state>/deadletters.sqlite`."""

    def __init__(self, state_dir: Path) -> None:
        self._lock = threading.Lock()
        self._conn = statedb.connect(state_dir / "deadletters.sqlite")
        self._conn.execute(_SCHEMA)

    def add(self, topic: str, payload: bytes, reason: str, now: datetime | None = None) -> None:
        received = (now or datetime.now(UTC)).isoformat()
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO dead_letter (received_at, topic, reason, payload) "
                    "VALUES (?, ?, ?, ?)",
                    (received, topic[:1024], reason[:1000], payload[:MAX_STORED_PAYLOAD]),
                )
        except sqlite3.Error as exc:
            raise CollectorError(f"cannot record dead letter: {exc}") from exc

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0])

    def latest(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, received_at, topic, reason, payload FROM dead_letter "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
