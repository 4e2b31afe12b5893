"""The outage spool: line-protocol batches kept on disk while InfluxDB is down, replayed in
order. Bounded by `max_bytes`; the intake raises a loud alarm near the limit."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from collector import statedb
from collector.errors import CollectorError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    points INTEGER NOT NULL,
    body TEXT NOT NULL,
    spooled_at REAL NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """The oldest waiting batch: its row id, its line-protocol points, when it was spooled."""

    id: int
    lines: list[str]
    spooled_at: float  # epoch seconds (wall clock: it survives restarts)


class SpoolFull(CollectorError):
    """The spool reached its size limit; the caller must stop acknowledging."""


class Spool:
    """FIFO of batches in `<state>/spool.sqlite`; a batch is durable once `push` returns."""

    def __init__(self, state_dir: Path, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._conn = statedb.connect(state_dir / "spool.sqlite")
        self._conn.execute(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(spool)")}
        if "spooled_at" not in columns:  # a spool written before the column existed
            self._conn.execute("ALTER TABLE spool ADD COLUMN spooled_at REAL NOT NULL DEFAULT 0")
        self.max_bytes = max_bytes
        row = self._conn.execute("SELECT count(*), coalesce(sum(points), 0), "
                                 "coalesce(sum(length(body)), 0) FROM spool").fetchone()
        self._batches, self._points, self._bytes = int(row[0]), int(row[1]), int(row[2])

    @property
    def depth(self) -> int:
        """Points waiting."""
        return self._points

    @property
    def batches(self) -> int:
        return self._batches

    @property
    def fill(self) -> float:
        """Fraction of the size limit in use (the alarm fires near 1.0)."""
        return self._bytes / self.max_bytes

    def push(self, lines: list[str]) -> None:
        """Append one batch durably (fsync'd), or raise SpoolFull / CollectorError (disk)."""
        body = "\n".join(lines)
        if self._bytes + len(body) > self.max_bytes:
            raise SpoolFull(f"spool full ({_size(self._bytes)} of {_size(self.max_bytes)})")
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO spool (points, body, spooled_at) VALUES (?, ?, ?)",
                    (len(lines), body, time.time()),
                )
                self._batches += 1
                self._points += len(lines)
                self._bytes += len(body)
        except sqlite3.Error as exc:
            # Disk full lands here: the caller keeps the messages unacknowledged.
            raise CollectorError(f"cannot write spool: {exc}") from exc

    def peek(self) -> SpooledBatch | None:
        """The oldest batch, or None when the spool is empty."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, body, spooled_at FROM spool ORDER BY id LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return SpooledBatch(int(row[0]), str(row[1]).split("\n"), float(row[2]))

    def remove(self, batch_id: int) -> None:
        """Drop a batch once InfluxDB has it (replayed)."""
        with self._lock:
            row = self._conn.execute("SELECT points, length(body) FROM spool WHERE id = ?",
                                     (batch_id,)).fetchone()
            if row is None:
                return
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))
            self._batches -= 1
            self._points -= int(row[0])
            self._bytes -= int(row[1])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _size(n: int) -> str:
    """Bytes for an operator: `1.6 kB`, `812.3 MB`."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
