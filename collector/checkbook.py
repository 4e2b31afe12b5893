"""The check book: what the scheduled checks keep in `<state>/checks.sqlite` — watermarks,
late-data marks, the latest findings of every judged window and the clusters' ledger rows;
the results the console reads instead of raw readings (hour results and volumes, their day and
month tallies); and the last-values cache (each series' newest reading). The scheduler writes
it; the inline monitor marks late data in it; the collector's tick thread keeps the last
values; reports and the console (`quantrac web`) read it.

A plant's checks own its findings of every kind but `collection_shortfall`; its cluster's
ledger owns those (filed under the central plant, or the cluster id when there is none), so
re-judging a plant's window never drops its cluster's findings, nor the reverse.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector import statedb
from rules.findings import CollectionNote, Finding
from rules.results import ClusterRow, TreatmentRow
from rules.summary import HourResult, HourVolume, LatestValue, Tally
from rules.windows import month_span

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
CREATE TABLE IF NOT EXISTS hour_result (
    plant TEXT NOT NULL, start INTEGER NOT NULL, station TEXT NOT NULL,
    parameter TEXT NOT NULL, day TEXT NOT NULL, whole INTEGER NOT NULL,
    expected INTEGER NOT NULL, valid INTEGER NOT NULL, excluded INTEGER NOT NULL,
    mean REAL, low REAL, high REAL, limit_min REAL, limit_max REAL,
    judged INTEGER NOT NULL, over INTEGER NOT NULL, serious INTEGER NOT NULL, ratio REAL,
    PRIMARY KEY (plant, start, station, parameter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hour_volume (plant TEXT NOT NULL, start INTEGER NOT NULL,
    day TEXT NOT NULL, inflow REAL NOT NULL, outflow REAL NOT NULL, bypass REAL NOT NULL,
    compliant REAL NOT NULL, measured INTEGER NOT NULL, unmeasured_h REAL NOT NULL,
    PRIMARY KEY (plant, start)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day_tally ({tally}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS month_tally ({tally}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS month_volume (
    plant TEXT NOT NULL, period TEXT NOT NULL, inflow REAL NOT NULL, outflow REAL NOT NULL,
    bypass REAL NOT NULL, inflow_measured REAL NOT NULL, outflow_measured REAL NOT NULL,
    compliant REAL NOT NULL, unmeasured_h REAL NOT NULL,
    PRIMARY KEY (plant, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    plant TEXT NOT NULL, station TEXT NOT NULL, parameter TEXT NOT NULL, value REAL,
    at REAL, status INTEGER NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (plant, station, parameter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cluster_row (
    cluster TEXT NOT NULL, date TEXT NOT NULL, generated_m3 REAL NOT NULL,
    collected_m3 REAL NOT NULL, treated_compliant_m3 REAL NOT NULL, collection_ratio REAL,
    treatment_ratio REAL, target_met INTEGER, measured_generated_m3 REAL NOT NULL,
    measured_collected_m3 REAL NOT NULL, judged_generated_m3 REAL NOT NULL,
    judged_compliant_m3 REAL NOT NULL, whole INTEGER NOT NULL, evaluated_at TEXT NOT NULL,
    PRIMARY KEY (cluster, date)
);
CREATE TABLE IF NOT EXISTS cluster_dirty (cluster TEXT PRIMARY KEY, earliest TEXT NOT NULL);
""".replace("{tally}", """
    plant TEXT NOT NULL, period TEXT NOT NULL, station TEXT NOT NULL,
    parameter TEXT NOT NULL, judged INTEGER NOT NULL, over INTEGER NOT NULL,
    serious INTEGER NOT NULL, worst REAL, expected INTEGER NOT NULL, valid INTEGER NOT NULL,
    excluded INTEGER NOT NULL, PRIMARY KEY (plant, period, station, parameter)
""")  # day and month tallies: one shape
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
# Hour rows are kept this long (day and month tallies for good): the public 30-day pages, the
# charts and a year's review need them; 500 plants x 8 series is ~35 M rows a year.
KEEP_HOURS = timedelta(days=400)
# An upsert of the last-values cache carries a newer valid value (the stored row is older).
_NEWER = "excluded.at IS NOT NULL AND (latest.at IS NULL OR excluded.at >= latest.at)"
_TALLY_COLUMNS = ("plant, station, parameter, period, judged, over, serious, worst, expected, "
                  "valid, excluded")
# The sums a tally keeps, from hour rows (or from day tallies: the same names).
_TALLY_SUMS = ("SUM(judged), SUM(over), SUM(serious), MAX({worst}), SUM(expected), "
               "SUM(valid), SUM(excluded)")
_HOUR_COLUMNS = ("station, parameter, start, day, whole, expected, valid, excluded, mean, "
                 "low, high, limit_min, limit_max, judged, over, serious, ratio")
# Treatment sums of hour volumes: totals over all hours, ratios over hours both meters measured.
_VOLUME_SUMS = ("SUM(inflow), SUM(outflow), SUM(bypass), SUM(inflow * measured), "
                "SUM(outflow * measured), SUM(compliant * measured), SUM(unmeasured_h)")


@dataclass(frozen=True, slots=True)
class KeptResults:
    """What a checked window leaves for the console (`rules.summary.hourly_results`), with
    the plant's zone (its days and months)."""

    zone: ZoneInfo
    hours: Sequence[HourResult]
    volumes: Sequence[HourVolume]


class CheckBook:
    """Watermarks, late-data marks and the latest findings, in `<state>/checks.sqlite`."""

    def __init__(self, state_dir: Path) -> None:
        self._lock = threading.Lock()
        self._conn = statedb.connect(state_dir / FILENAME)
        self._conn.executescript(_SCHEMA)
        # The last-values cache is written every second from the tick thread: its own
        # connection, so it never waits behind a long check transaction's Python lock.
        self._latest_lock = threading.Lock()
        self._latest_conn = statedb.connect(state_dir / FILENAME)
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
        kept: KeptResults | None = None,
    ) -> None:
        """Replace the window's findings (all but its cluster's `collection_shortfall`) and
        its kept results (`kept`, see `keep_results`), advance the watermark (if given),
        atomically: one synced commit per checked window."""
        lo, hi = _utc(start), _utc(end)
        with self._transaction():
            if kept is not None:
                self._keep(plant, start, end, kept)
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

    def _transaction(self) -> AbstractContextManager[None]:
        """One write transaction under the book's lock: all of it or nothing."""
        return _transaction(self._lock, self._conn)

    # -- results kept for the console --------------------------------------------------------

    def keep_results(self, plant: str, start: datetime, end: datetime, kept: KeptResults
                     ) -> None:
        """Replace the hour results and volumes of [start, end) (`rules.summary`) and the day
        and month tallies they fall in, in one transaction."""
        with self._transaction():
            self._keep(plant, start, end, kept)

    def _keep(self, plant: str, start: datetime, end: datetime, kept: KeptResults) -> None:
        lo, hi = _epoch(start), _epoch(end)
        hours, volumes = kept.hours, kept.volumes
        days = sorted({h.day for h in hours} | {v.day for v in volumes})
        self._conn.execute("DELETE FROM hour_result WHERE plant = ? AND start >= ? "
                           "AND start < ?", (plant, lo, hi))
        self._conn.executemany(
            f"INSERT OR REPLACE INTO hour_result (plant, {_HOUR_COLUMNS}) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(plant, h.station, h.parameter, _epoch(h.start), h.day, h.whole,
              h.expected, h.valid, h.excluded, h.mean, h.low, h.high, h.limit_min,
              h.limit_max, h.judged, h.over, h.serious, h.ratio) for h in hours])
        self._conn.execute("DELETE FROM hour_volume WHERE plant = ? AND start >= ? "
                           "AND start < ?", (plant, lo, hi))
        self._conn.executemany(
            "INSERT OR REPLACE INTO hour_volume VALUES (?,?,?,?,?,?,?,?,?)",
            [(plant, _epoch(v.start), v.day, v.inflow_m3, v.outflow_m3, v.bypass_m3,
              v.compliant_m3, v.measured, v.unmeasured_h) for v in volumes])
        for day in days:
            self._tally_day(plant, day, _day_bounds(day, kept.zone))
        for month in sorted({day[:7] for day in days}):
            self._tally_month(plant, month, _month_bounds(month, kept.zone))

    def _tally_day(self, plant: str, day: str, bounds: tuple[int, int]) -> None:
        self._conn.execute("DELETE FROM day_tally WHERE plant = ? AND period = ?", (plant, day))
        self._conn.execute(
            "INSERT INTO day_tally SELECT plant, ?, station, parameter, "
            + _TALLY_SUMS.format(worst="CASE WHEN judged THEN ratio END")
            + " FROM hour_result WHERE plant = ? AND start >= ? AND start < ? "
            "GROUP BY station, parameter", (day, plant, *bounds))

    def _tally_month(self, plant: str, month: str, bounds: tuple[int, int]) -> None:
        self._conn.execute("DELETE FROM month_tally WHERE plant = ? AND period = ?",
                           (plant, month))
        self._conn.execute(
            "INSERT INTO month_tally SELECT plant, ?, station, parameter, "
            + _TALLY_SUMS.format(worst="worst")
            + " FROM day_tally WHERE plant = ? AND period >= ? AND period < ? "
            "GROUP BY station, parameter", (month, plant, f"{month}-01", f"{month}-99"))
        self._conn.execute("DELETE FROM month_volume WHERE plant = ? AND period = ?",
                           (plant, month))
        self._conn.execute(
            f"INSERT INTO month_volume SELECT plant, ?, {_VOLUME_SUMS} FROM hour_volume "
            "WHERE plant = ? AND start >= ? AND start < ? GROUP BY plant",
            (month, plant, *bounds))

    def adopt_serious_factors(self, name: str, factor: Callable[[str], float]) -> bool:
        """Count serious windows with `factor(parameter)` (the chronic rule; `name` identifies
        the factors): when they changed since the rows were kept, every hour row is judged
        again and every tally rebuilt. True when a rebuild happened."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'serious_factors'"
                                     ).fetchone()
        if row is not None and row[0] == name:
            return False
        with self._transaction():
            params = [r[0] for r in self._conn.execute(
                "SELECT DISTINCT parameter FROM hour_result").fetchall()]
            self._conn.executemany(
                "UPDATE hour_result SET serious = (judged AND ratio >= ?) WHERE parameter = ?",
                [(factor(p), p) for p in params])
            self._conn.execute("DELETE FROM day_tally")
            self._conn.execute(
                "INSERT INTO day_tally SELECT plant, day, station, parameter, "
                + _TALLY_SUMS.format(worst="CASE WHEN judged THEN ratio END")
                + " FROM hour_result GROUP BY plant, day, station, parameter")
            self._conn.execute("DELETE FROM month_tally")
            self._conn.execute(
                "INSERT INTO month_tally SELECT plant, substr(period, 1, 7), station, "
                f"parameter, {_TALLY_SUMS.format(worst='worst')} FROM day_tally "
                "GROUP BY plant, substr(period, 1, 7), station, parameter")
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('serious_factors', ?)",
                               (name,))
        return bool(params)

    def prune_hours(self, plant: str, before: datetime) -> None:
        """Drop the plant's hour rows older than `before` (the tallies stay)."""
        with self._lock:
            self._conn.execute("DELETE FROM hour_result WHERE plant = ? AND start < ?",
                               (plant, _epoch(before)))
            self._conn.execute("DELETE FROM hour_volume WHERE plant = ? AND start < ?",
                               (plant, _epoch(before)))

    def keep_latest(self, values: Iterable[LatestValue]) -> None:
        """Store series' newest readings (the last-values cache); a newer stored one wins."""
        rows = [(v.plant, v.station, v.parameter, v.value,
                 None if v.at is None else v.at.timestamp(), v.status, v.seen.timestamp())
                for v in values]
        if not rows:
            return
        # One transaction, one synced commit: autocommit made each row its own (600 rows:
        # 127 ms wall, 61 ms CPU on the tick thread; in one transaction a few ms).
        with _transaction(self._latest_lock, self._latest_conn):
            self._latest_conn.executemany(
                "INSERT INTO latest VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(plant, station, parameter) DO UPDATE SET "
                f"value = CASE WHEN {_NEWER} THEN excluded.value ELSE latest.value END, "
                f"at = CASE WHEN {_NEWER} THEN excluded.at ELSE latest.at END, "
                "status = CASE WHEN excluded.seen >= latest.seen THEN excluded.status "
                "ELSE latest.status END, seen = max(excluded.seen, latest.seen)", rows)

    # -- what the console reads ------------------------------------------------------------

    def latest_values(self, plants: Collection[str] | None = None, per_plant: bool = False
                      ) -> list[LatestValue]:
        """The last-values cache, for `plants` (every plant when None). `per_plant`: one row
        per plant (station and parameter "", no value) with its newest reading's time and the
        worst status its series report now (2 when any device reports an error)."""
        sql = ("SELECT plant, '', '', NULL, NULL, MAX(status), MAX(seen) FROM latest"
               if per_plant else
               "SELECT plant, station, parameter, value, at, status, seen FROM latest")
        query, args = _in_plants(sql, plants)
        if per_plant:
            query += " GROUP BY plant"
        with self._lock:
            rows = self._conn.execute(query, args).fetchall()
        return [LatestValue(p, s, k, value, None if at is None or value is None
                            else _from_epoch(at), status, _from_epoch(seen))
                for p, s, k, value, at, status, seen in rows]

    def hour_results(self, plant: str, start: datetime, end: datetime,
                     parameter: str | None = None, stations: Collection[str] | None = None,
                     whole: bool = False) -> list[HourResult]:
        """The plant's hour results with start in [start, end), by time: of one parameter,
        of some stations, of whole hours only, when asked."""
        sql = (f"SELECT {_HOUR_COLUMNS} FROM hour_result WHERE plant = ? AND start >= ? "
               "AND start < ?")
        args: list[object] = [plant, _epoch(start), _epoch(end)]
        if parameter is not None:
            sql += " AND parameter = ?"
            args.append(parameter)
        if stations is not None:
            sql += f" AND station IN ({','.join('?' * len(stations)) or 'NULL'})"
            args += list(stations)
        if whole:
            sql += " AND whole = 1"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY start, station, parameter",
                                      args).fetchall()
        times: dict[int, datetime] = {}  # the series of an hour share its start
        return [_hour_result(plant, row, times) for row in rows]

    def notable_hours(self, plant: str, start: datetime, end: datetime,
                      stations: Collection[str], by: str) -> list[HourResult]:
        """Per series of `stations`, its whole hour in [start, end) with the newest
        (`by="newest"`) or the highest (`by="highest"`) mean of valid readings."""
        pick = {"newest": "MAX(start)", "highest": "MAX(mean)"}[by]
        marks = ",".join("?" * len(stations)) or "NULL"
        with self._lock:
            rows = self._conn.execute(
                # SQLite fills the bare columns from the row holding the MAX().
                f"SELECT {_HOUR_COLUMNS}, {pick} FROM hour_result WHERE plant = ? AND start >= ? "
                f"AND start < ? AND whole = 1 AND mean IS NOT NULL AND station IN ({marks}) "
                "GROUP BY station, parameter",
                (plant, _epoch(start), _epoch(end), *stations)).fetchall()
        return [_hour_result(plant, row[:-1]) for row in rows]

    def day_tallies(self, plant: str, first: date, last: date) -> list[Tally]:
        """The plant's day tallies from `first` to `last` (plant-local dates, inclusive)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_TALLY_COLUMNS} FROM day_tally WHERE plant = ? AND period >= ? "
                "AND period <= ? "
                "ORDER BY period, station, parameter",
                (plant, first.isoformat(), last.isoformat())).fetchall()
        return [Tally(*row) for row in rows]

    def tallies(self, plants: Collection[str] | None, first: str, last: str,
                per: str = "series") -> list[Tally]:
        """The month tallies of months `first`..`last` (YYYY-MM, inclusive) summed per plant
        and series, per plant and parameter (`per="parameter"`: station "") or per plant
        (`per="plant"`: station and parameter ""); `period` is "first..last" (or the month
        when they are equal)."""
        keys = {"series": ("station", "parameter"), "parameter": ("''", "parameter"),
                "plant": ("''", "''")}[per]
        groups = ", ".join(["plant", *(k for k in keys if k != "''")])
        period = first if first == last else f"{first}..{last}"
        sql = (f"SELECT plant, {keys[0]}, {keys[1]}, ?, "
               + _TALLY_SUMS.format(worst="worst")
               + " FROM month_tally WHERE period >= ? AND period <= ?")
        query, args = _in_plants(sql, plants, [period, first, last], "AND")
        with self._lock:
            rows = self._conn.execute(query + f" GROUP BY {groups}", args).fetchall()
        return [Tally(*row) for row in rows]

    def day_treatment(self, plant: str, start: datetime, end: datetime) -> list[TreatmentRow]:
        """The plant's treatment rows per plant-local day of the hours in [start, end)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT day, {_VOLUME_SUMS} FROM hour_volume WHERE plant = ? AND start >= ? "
                "AND start < ? GROUP BY day ORDER BY day",
                (plant, _epoch(start), _epoch(end))).fetchall()
        return [_treatment_row(plant, *row) for row in rows]

    def month_treatment(self, plants: Collection[str] | None, month: str
                        ) -> list[TreatmentRow]:
        """Treatment rows of `month` (YYYY-MM; the month so far for the current one)."""
        sql = ("SELECT plant, period, inflow, outflow, bypass, inflow_measured, "
               "outflow_measured, compliant, unmeasured_h FROM month_volume WHERE period = ?")
        query, args = _in_plants(sql, plants, [month], "AND")
        with self._lock:
            rows = self._conn.execute(query, args).fetchall()
        return [_treatment_row(plant, *rest) for plant, *rest in rows]

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
        with self._latest_lock:
            self._latest_conn.close()


def _hour_result(plant: str, row: Sequence[Any], times: dict[int, datetime] | None = None
                 ) -> HourResult:
    """An hour result from a row of `_HOUR_COLUMNS` (`times`: starts made already)."""
    (station, key, at, day, whole, expected, valid, excluded, mean, low, high, lim_min,
     lim_max, judged, over, serious, ratio) = row
    start = times.get(at) if times is not None else None
    if start is None:
        start = _from_epoch(at)
        if times is not None:
            times[at] = start
    return HourResult(plant, station, key, start, day, bool(whole), expected, valid, excluded,
                      mean, low, high, lim_min, lim_max, bool(judged), bool(over),
                      bool(serious), ratio)


@contextmanager
def _transaction(lock: threading.Lock, conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on `conn` under `lock`: all of it or nothing."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except Exception:  # any failure inside leaves nothing half-written
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _day_bounds(day: str, zone: ZoneInfo) -> tuple[int, int]:
    """A plant-local day as [start, end) in epoch seconds."""
    first = date.fromisoformat(day)
    return (_epoch(datetime.combine(first, time(), zone)),
            _epoch(datetime.combine(first + timedelta(days=1), time(), zone)))


def _month_bounds(month: str, zone: ZoneInfo) -> tuple[int, int]:
    """A plant-local month (YYYY-MM) as [start, end) in epoch seconds."""
    first, after = month_span(month, zone)
    return _epoch(first), _epoch(after)


def _in_plants(sql: str, plants: Collection[str] | None, args: Sequence[object] = (),
               joint: str = "WHERE") -> tuple[str, list[object]]:
    """`sql` restricted to `plants` (all when None)."""
    if plants is None:
        return sql, list(args)
    ids = list(plants)
    marks = ",".join("?" * len(ids)) or "NULL"
    return f"{sql} {joint} plant IN ({marks})", [*args, *ids]


def _treatment_row(
    plant: str, period: str, inflow: float, outflow: float, bypass: float,
    inflow_measured: float, outflow_measured: float, compliant: float, unmeasured_h: float,
) -> TreatmentRow:
    """A SPEC treatment row from volume sums: the same arithmetic as
    `rules.treatment.treatment_row` (ratios over the hours both meters measured)."""
    return TreatmentRow(
        plant=plant, date=period, inflow_m3=inflow, outflow_m3=outflow, bypass_m3=bypass,
        treated_ratio=outflow_measured / inflow_measured if inflow_measured > 0 else None,
        compliant_ratio=compliant / inflow_measured if inflow_measured > 0 else None,
        flow_gap_hours=unmeasured_h,
    )


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
