"""The check book: what the scheduled checks keep in `<state>/checks.sqlite` — watermarks,
late-data marks and the latest findings of every judged window. The scheduler writes it; the
inline monitor marks late data in it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from collector import statedb
from rules.findings import Finding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermark (plant TEXT PRIMARY KEY, evaluated_to TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirty (plant TEXT PRIMARY KEY, earliest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS finding (
    plant TEXT NOT NULL, station TEXT NOT NULL, parameter TEXT NOT NULL, kind TEXT NOT NULL,
    basis TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL, value REAL, lim REAL,
    ratio REAL, severity TEXT NOT NULL, evaluated_at TEXT NOT NULL,
    PRIMARY KEY (plant, station, parameter, kind, basis, start)
);
"""


class CheckBook:
    """Watermarks, late-data marks and the latest findings, in `<state>/checks.sqlite`."""

    def __init__(self, state_dir: Path) -> None:
        self._lock = threading.Lock()
        self._conn = statedb.connect(state_dir / "checks.sqlite")
        self._conn.executescript(_SCHEMA)
        # Marks known to be stored: a backfill marks every batch late, and each write is a
        # synced SQLite commit; an earlier stored mark already covers a later one.
        self._stored_marks: dict[str, datetime] = {}

    def watermark(self, plant: str) -> datetime | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT evaluated_to FROM watermark WHERE plant = ?", (plant,)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def mark_late(self, plant: str, earliest: datetime) -> None:
        """Remember the earliest record time ingested for a plant since its last check."""
        with self._lock:
            known = self._stored_marks.get(plant)
            if known is not None and known <= earliest:
                return
            self._conn.execute(
                "INSERT INTO dirty (plant, earliest) VALUES (?, ?) ON CONFLICT(plant) DO UPDATE "
                "SET earliest = min(earliest, excluded.earliest)",
                (plant, earliest.astimezone(UTC).isoformat()),
            )
            self._stored_marks[plant] = earliest if known is None else min(known, earliest)

    def take_late(self, plant: str) -> datetime | None:
        with self._lock:
            row = self._conn.execute("SELECT earliest FROM dirty WHERE plant = ?",
                                     (plant,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def commit_window(
        self, plant: str, start: datetime, end: datetime, findings: Sequence[Finding],
        late_seen: datetime | None, now: datetime, watermark: datetime | None = None,
    ) -> None:
        """Replace the window's findings and advance the watermark (if given), atomically."""
        lo, hi = start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "DELETE FROM finding WHERE plant = ? AND start >= ? AND start < ?",
                    (plant, lo, hi),
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO finding VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (f.plant, f.station, f.parameter, f.kind, f.basis,
                         f.start.astimezone(UTC).isoformat(), f.end.astimezone(UTC).isoformat(),
                         f.value, f.limit, f.ratio, f.severity, now.isoformat())
                        for f in findings
                    ],
                )
                if watermark is not None:
                    self._conn.execute(
                        "INSERT INTO watermark VALUES (?, ?) ON CONFLICT(plant) DO UPDATE SET "
                        "evaluated_to = max(evaluated_to, excluded.evaluated_to)",
                        (plant, watermark.astimezone(UTC).isoformat()),
                    )
                if late_seen is not None:
                    self._stored_marks.pop(plant, None)
                    # Only clear marks we consumed; a newer late record keeps its mark.
                    self._conn.execute(
                        "DELETE FROM dirty WHERE plant = ? AND earliest >= ?",
                        (plant, late_seen.astimezone(UTC).isoformat()),
                    )
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                self._conn.execute("ROLLBACK")
                raise

    def findings(self, plant: str) -> list[tuple[object, ...]]:
        with self._lock:
            return self._conn.execute(
                "SELECT station, parameter, kind, basis, start, end, value, lim, ratio, severity "
                "FROM finding WHERE plant = ? ORDER BY start", (plant,)
            ).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
