"""The outage spool: line-protocol batches kept on disk while InfluxDB is down, replayed in
order. Bounded by `max_bytes`; the intake raises a loud alarm near the limit."""

from __future__ import annotations

import os
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
    """The oldest waiting batches taken together: the row id of the last of them, their
    line-protocol points in order, when the first was spooled."""

    id: int
    lines: list[str]
    spooled_at: float  # epoch seconds (wall clock: it survives restarts)


# Free space kept on the state dir's file system: removing replayed batches (and the alert book)
# needs room to write, so a spool that filled the disk to the last byte could never drain.
DISK_RESERVE_MAX = 64 * 1024 * 1024
DISK_RESERVE_FRACTION = 0.1
WAL_CHECKPOINT_PAGES = 128
WAL_SIZE_LIMIT = 1024 * 1024


class SpoolFull(CollectorError):
    """The spool reached its size limit; the caller must stop acknowledging."""


class Spool:
    """FIFO of batches in `<state>/spool.sqlite`; a batch is durable once `push` returns."""

    def __init__(self, state_dir: Path, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._dir = state_dir
        self._conn = statedb.connect(state_dir / "spool.sqlite")
        # Checkpoint often and cap the WAL file: by default the WAL may hold 4 MB of batches
        # beside the database, and a checkpoint on a nearly full disk could not complete.
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
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

    def push(self, lines: list[str], points: int | None = None) -> None:
        """Append one batch durably (fsync'd), or raise SpoolFull / CollectorError (disk).
        `lines`: line-protocol texts, each one point or several on separate lines; `points`
        in all (default: one per text)."""
        body = "\n".join(lines)
        if points is None:
            points = len(lines)
        if self._bytes + len(body) > self.max_bytes:
            raise SpoolFull(f"spool full ({_size(self._bytes)} of {_size(self.max_bytes)})")
        self._check_disk(len(body))
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO spool (points, body, spooled_at) VALUES (?, ?, ?)",
                    (points, body, time.time()),
                )
                self._batches += 1
                self._points += points
                self._bytes += len(body)
        except sqlite3.Error as exc:
            # Disk full lands here: the caller keeps the messages unacknowledged.
            raise CollectorError(f"cannot write spool: {exc}") from exc

    def peek(self, max_points: int = 1) -> SpooledBatch | None:
        """The oldest batches, in order, as one: as many as fit in `max_points` (at least
        one), or None when the spool is empty. Batches spooled during an outage are as small
        as the live ones (~50 points at 1,000 records/s): replaying them one request each
        bounded the drain at the request rate."""
        with self._lock:
            cursor = self._conn.execute(
                "SELECT id, points, body, spooled_at FROM spool ORDER BY id")
            try:
                first = cursor.fetchone()
                if first is None:
                    return None
                last, total, bodies = int(first[0]), int(first[1]), [str(first[2])]
                for row_id, points, body, _ in iter(cursor.fetchone, None):
                    if total + int(points) > max_points:
                        break
                    last, total = int(row_id), total + int(points)
                    bodies.append(str(body))
            finally:
                cursor.close()
        return SpooledBatch(last, "\n".join(bodies).split("\n"), float(first[3]))

    def remove(self, batch_id: int) -> None:
        """Drop the batches up to and including `batch_id` once InfluxDB has them (replayed:
        `peek`'s batches, oldest first)."""
        with self._lock:
            row = self._conn.execute("SELECT count(*), coalesce(sum(points), 0), "
                                     "coalesce(sum(length(body)), 0) FROM spool WHERE id <= ?",
                                     (batch_id,)).fetchone()
            if not row[0]:
                return
            try:
                self._conn.execute("DELETE FROM spool WHERE id <= ?", (batch_id,))
            except sqlite3.Error:
                # One delete of many batches needs more room in the WAL than a nearly full disk
                # may have (a 4 MiB state disk refused 40,000 points at once): one at a time.
                self._remove_one_by_one(batch_id)
                return
            self._batches -= int(row[0])
            self._points -= int(row[1])
            self._bytes -= int(row[2])

    def _remove_one_by_one(self, batch_id: int) -> None:
        """`remove`, a batch per delete (the caller holds the lock)."""
        rows = self._conn.execute("SELECT id, points, length(body) FROM spool WHERE id <= ? "
                                  "ORDER BY id", (batch_id,)).fetchall()
        for row_id, points, size in rows:
            try:
                self._conn.execute("DELETE FROM spool WHERE id = ?", (row_id,))
            except sqlite3.Error as exc:
                # Replayed but still spooled: it is written again later (idempotent).
                raise CollectorError(f"cannot remove a replayed spool batch: {exc}") from exc
            self._batches -= 1
            self._points -= int(points)
            self._bytes -= int(size)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _check_disk(self, needed: int) -> None:
        """SpoolFull when writing `needed` bytes would eat into the disk reserve."""
        try:
            fs = os.statvfs(self._dir)
        except OSError:
            return  # cannot tell: let SQLite report a full disk itself
        total, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
        reserve = min(DISK_RESERVE_MAX, int(total * DISK_RESERVE_FRACTION))
        if free - 2 * needed < reserve:  # x2: the WAL copy, then the database page
            raise SpoolFull(
                f"state disk nearly full: {_size(free)} free on {self._dir}, "
                f"keeping {_size(reserve)} in reserve"
            )


def _size(n: int) -> str:
    """Bytes for an operator: `1.6 kB`, `812.3 MB`."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
