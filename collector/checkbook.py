"""The check book: what the scheduled checks keep in `<state>/checks.sqlite` — watermarks,
late-data marks, the latest findings of every judged window and the clusters' ledger rows. The
scheduler writes it; the inline monitor marks late data in it; reports and the console read it.

A plant's checks own its findings of every kind but `collection_shortfall`; its cluster's
ledger owns those (filed under the central plant, or the cluster id when there is none), so
re-judging a plant's window never drops its cluster's findings, nor the reverse.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from collector import statedb
from rules.findings import CollectionNote, Finding
from rules.results import ClusterRow

FILENAME = "checks.sqlite"
_CLUSTER_KIND = "collection_shortfall"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermark (plant TEXT PRIMARY KEY, evaluated_to TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirty (plant TEXT PRIMARY KEY, earliest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS finding (
    plant TEXT NOT NULL, station TEXT NOT NULL, parameter TEXT NOT NULL, kind TEXT NOT NULL,
    basis TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL, value REAL, lim REAL,
    ratio REAL, severity TEXT NOT NULL, evaluated_at TEXT NOT NULL,
    PRIMARY KEY (plant, station, parameter, kind, basis, start)
);
CREATE TABLE IF NOT EXISTS cluster_row (
    cluster TEXT NOT NULL, date TEXT NOT NULL, generated_m3 REAL NOT NULL,
    collected_m3 REAL NOT NULL, treated_compliant_m3 REAL NOT NULL, collection_ratio REAL,
    treatment_ratio REAL, target_met INTEGER, measured_generated_m3 REAL NOT NULL,
    measured_collected_m3 REAL NOT NULL, judged_generated_m3 REAL NOT NULL,
    judged_compliant_m3 REAL NOT NULL, whole INTEGER NOT NULL, evaluated_at TEXT NOT NULL,
    PRIMARY KEY (cluster, date)
);
CREATE TABLE IF NOT EXISTS cluster_dirty (cluster TEXT PRIMARY KEY, earliest TEXT NOT NULL);
"""
# Columns added after the first release: a book written by an older version gets them on open.
_ADDED_COLUMNS = (
    ("finding", "note", "TEXT NOT NULL DEFAULT ''"),
    ("finding", "explanation", "TEXT"),  # rules.findings.CollectionNote as JSON
)
_FINDING_COLUMNS = ("plant, station, parameter, kind, basis, start, end, value, lim, ratio, "
                    "severity, evaluated_at, note, explanation")
_ROW_FIELDS = ("generated_m3", "collected_m3", "treated_compliant_m3", "collection_ratio",
               "treatment_ratio", "target_met", "measured_generated_m3",
               "measured_collected_m3", "judged_generated_m3", "judged_compliant_m3")


class CheckBook:
    """Watermarks, late-data marks and the latest findings, in `<state>/checks.sqlite`."""

    def __init__(self, state_dir: Path) -> None:
        self._lock = threading.Lock()
        self._conn = statedb.connect(state_dir / FILENAME)
        self._conn.executescript(_SCHEMA)
        for table, column, declaration in _ADDED_COLUMNS:
            known = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            if column not in known:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
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
        return self._earliest("SELECT earliest FROM dirty WHERE plant = ?", plant)

    def _earliest(self, query: str, key: str) -> datetime | None:
        with self._lock:
            row = self._conn.execute(query, (key,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def commit_window(
        self, plant: str, start: datetime, end: datetime, findings: Sequence[Finding],
        late_seen: datetime | None, now: datetime, watermark: datetime | None = None,
    ) -> None:
        """Replace the window's findings (all but its cluster's `collection_shortfall`) and
        advance the watermark (if given), atomically."""
        lo, hi = _utc(start), _utc(end)
        with self._transaction():
            self._conn.execute(
                "DELETE FROM finding WHERE plant = ? AND start >= ? AND start < ? "
                "AND kind != ?", (plant, lo, hi, _CLUSTER_KIND),
            )
            self._insert_findings(findings, now)
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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction under the book's lock: all of it or nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except Exception:  # any failure inside leaves nothing half-written
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _insert_findings(self, findings: Sequence[Finding], now: datetime) -> None:
        self._conn.executemany(
            f"INSERT OR REPLACE INTO finding ({_FINDING_COLUMNS}) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(f.plant, f.station, f.parameter, f.kind, f.basis, _utc(f.start), _utc(f.end),
              f.value, f.limit, f.ratio, f.severity, now.isoformat(), f.note,
              None if f.explanation is None else json.dumps(f.explanation.to_json()))
             for f in findings],
        )

    def findings(self, plant: str) -> list[tuple[object, ...]]:
        with self._lock:
            return self._conn.execute(
                "SELECT station, parameter, kind, basis, start, end, value, lim, ratio, severity "
                "FROM finding WHERE plant = ? ORDER BY start", (plant,)
            ).fetchall()

    def stored_findings(self, plant: str, start: datetime, end: datetime) -> list[Finding]:
        """The plant's findings (those of its cluster's ledger too, when it is the cluster's
        central plant or the cluster id) that overlap [start, end), oldest first; times UTC."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_FINDING_COLUMNS} FROM finding WHERE plant = ? AND start < ? "
                "AND end > ? ORDER BY start, station, parameter, kind, basis",
                (plant, _utc(end), _utc(start)),
            ).fetchall()
        return [_finding(row) for row in rows]

    # -- clusters ---------------------------------------------------------------------------

    def mark_cluster_late(self, cluster: str, earliest: datetime) -> None:
        """Remember the earliest record time of a cluster's plants ingested late, for the
        scheduler to judge the cluster's closed days again."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO cluster_dirty (cluster, earliest) VALUES (?, ?) ON CONFLICT(cluster) "
                "DO UPDATE SET earliest = min(earliest, excluded.earliest)",
                (cluster, _utc(earliest)),
            )

    def take_cluster_late(self, cluster: str) -> datetime | None:
        return self._earliest("SELECT earliest FROM cluster_dirty WHERE cluster = ?", cluster)

    def commit_cluster(
        self, cluster: str, plant: str, start: datetime, end: datetime,
        rows: Sequence[ClusterRow], findings: Sequence[Finding], now: datetime,
        late_seen: datetime | None = None,
    ) -> None:
        """Store a judged window of a cluster's ledger atomically: `rows` (whole days, whole
        months) replace the stored rows of their dates, `findings` replace the cluster's
        collection findings (filed under `plant`) that start in [start, end), and the late
        mark consumed (`late_seen`) is cleared unless a newer one came meanwhile."""
        with self._transaction():
            self._conn.execute(
                "DELETE FROM finding WHERE plant = ? AND kind = ? AND start >= ? "
                "AND start < ?", (plant, _CLUSTER_KIND, _utc(start), _utc(end)),
            )
            self._insert_findings(findings, now)
            self._conn.executemany(
                f"INSERT OR REPLACE INTO cluster_row VALUES ({','.join('?' * 14)})",
                [_row_values(row, whole=True, now=now) for row in rows],
            )
            if late_seen is not None:
                self._conn.execute(
                    "DELETE FROM cluster_dirty WHERE cluster = ? AND earliest >= ?",
                    (cluster, _utc(late_seen)),
                )

    def merge_month_to_date(self, row: ClusterRow, now: datetime) -> None:
        """Store a month's row made from its judged days, unless the whole month is judged
        already (the monthly job's row stays)."""
        fields = ", ".join(f"{name} = excluded.{name}" for name in _ROW_FIELDS)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO cluster_row VALUES ({','.join('?' * 14)}) "
                f"ON CONFLICT(cluster, date) DO UPDATE SET {fields}, "
                "evaluated_at = excluded.evaluated_at WHERE cluster_row.whole = 0",
                _row_values(row, whole=False, now=now),
            )

    def cluster_rows(self, cluster: str, since: str, until: str) -> list[ClusterRow]:
        """The cluster's stored ledger rows from day `since` to day `until` (both included,
        `YYYY-MM-DD`): its day rows and the rows of the months they fall in, ordered by date
        label (a month's row, `YYYY-MM`, comes before its days). A month's row is the whole
        month once the monthly job judged it, before that the month so far (its judged days
        added up, `target_met` None); see `whole_months`."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT cluster, date, {', '.join(_ROW_FIELDS)} FROM cluster_row "
                "WHERE cluster = ? AND ((length(date) = 10 AND date >= ? AND date <= ?) "
                "OR (length(date) = 7 AND date >= ? AND date <= ?)) ORDER BY date",
                (cluster, since, until, since[:7], until[:7]),
            ).fetchall()
        return [_cluster_row(row) for row in rows]

    def whole_months(self, cluster: str) -> set[str]:
        """The months (`YYYY-MM`) whose stored row judges the whole month."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT date FROM cluster_row WHERE cluster = ? AND length(date) = 7 "
                "AND whole = 1", (cluster,)).fetchall()
        return {row[0] for row in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _finding(row: Sequence[object]) -> Finding:
    (plant, station, parameter, kind, basis, start, end, value, limit, ratio, severity, _,
     note, explanation) = row
    return Finding(
        plant=str(plant), station=str(station), parameter=str(parameter), kind=str(kind),
        basis=str(basis), start=datetime.fromisoformat(str(start)),
        end=datetime.fromisoformat(str(end)), value=_float(value), limit=_float(limit),
        ratio=_float(ratio), severity=str(severity), note=str(note or ""),
        explanation=None if explanation is None
        else CollectionNote.from_json(json.loads(str(explanation))),
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _row_values(row: ClusterRow, whole: bool, now: datetime) -> tuple[object, ...]:
    met = None if row.target_met is None else int(row.target_met)
    return (row.cluster, row.date, row.generated_m3, row.collected_m3, row.treated_compliant_m3,
            row.collection_ratio, row.treatment_ratio, met, row.measured_generated_m3,
            row.measured_collected_m3, row.judged_generated_m3, row.judged_compliant_m3,
            int(whole), now.astimezone(UTC).isoformat())


def _cluster_row(row: Sequence[object]) -> ClusterRow:
    cluster, date, *values = row
    named = dict(zip(_ROW_FIELDS, values, strict=True))
    met = named.pop("target_met")
    return ClusterRow(cluster=str(cluster), date=str(date),
                      target_met=None if met is None else bool(met),
                      **named)  # type: ignore[arg-type]
