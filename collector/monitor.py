"""The inline monitor: who judges what, when (docs/architecture.md), and what reaches the
alert book. The collector's threads hand it every durable round of records (`judge_round`, the
intake's blocks) and every scheduled check result (`file_check`); it owns no thread, socket or
queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import numpy as np

from collector.payload import Block, utc_time
from collector.schedule import hour_floor
from rules.evaluate import instantaneous_series_findings, quiet_round
from rules.findings import Finding
from rules.limits import EffectiveLimits, plant_limits
from rules.permit import Plant
from rules.results import CheckResult
from rules.series import Series, series_of
from rules.settings import CheckSettings
from rules.summary import LatestValue

log = logging.getLogger("quantrac.collector")

SeriesKey = tuple[str, str, str]  # (plant, station, parameter): what an alert's scope names

# The bases and kinds the per-round check judges (and may clear); the rest need the scheduled
# check, which alone sees history.
INLINE_BASES = frozenset({"instantaneous"})
INLINE_KINDS = frozenset({"exceedance", "below_minimum", "bypass"})
QUALITY_KINDS = frozenset({"no_data", "sensor_fault"})
# Which finding bases each scheduled job reports to the alert book ("review" = none).
JOB_BASES: dict[str, frozenset[str]] = {
    "frequent": frozenset({"hourly_mean"}),
    "daily": frozenset({"daily_mean", "day"}),
    "monthly": frozenset({"monthly_mean", "month"}),
}


class AlertBook(Protocol):
    """What the monitor needs of `alerts.manager.AlertManager`."""

    def observe(
        self,
        findings: Sequence[Finding],
        scope: Collection[SeriesKey],
        now: datetime,
        values: Mapping[SeriesKey, float] | None = None,
        bases: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> None: ...


class LateMarks(Protocol):
    """What the monitor needs of `collector.checkbook.CheckBook`."""

    def mark_late(self, plant: str, earliest: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Latest:
    """A series' newest valid (status 00) value and its record time."""

    value: float
    at: datetime


@dataclass(frozen=True, slots=True)
class Newest:
    """A series' newest reading, valid or not: its status code (0, 1 calibrating, 2 device
    error) and record time."""

    status: int
    at: datetime


@dataclass
class _LimitCache:
    """Effective limits per plant and plant-local day (permits change on dates)."""

    entries: dict[tuple[str, date], EffectiveLimits] = field(default_factory=dict)

    def get(self, plant: Plant, day: date) -> EffectiveLimits:
        key = (plant.id, day)
        if key not in self.entries:
            self.entries = {k: v for k, v in self.entries.items() if k[1] >= day}
            self.entries[key] = plant_limits(plant, day)
        return self.entries[key]


class Monitor:
    """Judges each round of durable readings inline (instantaneous limits, bypass, single-
    reading faults) and passes scheduled check results on by job; remembers each station's
    newest record and each configured series' newest valid value."""

    def __init__(
        self,
        plants: Sequence[Plant],
        checks: CheckSettings,
        book: LateMarks,
        alerts: AlertBook,
        clock: Callable[[], datetime],
    ) -> None:
        self._plants = {p.id: p for p in plants}
        self._checks = checks
        self._book = book
        self._alerts = alerts
        self._clock = clock
        self._limits = _LimitCache()
        # Only configured series are remembered: a station cannot grow memory with new keys.
        self._configured = {(p.id, station, key) for p in plants
                            for station, keys in p.stations.items() for key in keys}
        self._lock = threading.Lock()
        self._last_seen: dict[tuple[str, str], datetime] = {}
        self._latest: dict[SeriesKey, Latest] = {}
        self._newest: dict[SeriesKey, Newest] = {}
        self._changed: set[SeriesKey] = set()  # since the last `take_changes`

    def last_seen(self) -> dict[tuple[str, str], datetime]:
        """(plant, station) → time of its newest record seen (unknown plants too)."""
        with self._lock:
            return dict(self._last_seen)

    def latest(self) -> dict[SeriesKey, Latest]:
        """(plant, station, parameter) → newest valid value and its time, for each configured
        series seen since start (the console's live values)."""
        with self._lock:
            return dict(self._latest)

    def take_changes(self) -> list[LatestValue]:
        """The series whose newest value or status changed since the last call (the
        collector persists them about once a second for the console)."""
        with self._lock:
            changed, self._changed = self._changed, set()
            out = []
            for series in changed:
                newest = self._newest.get(series)
                if newest is None:
                    continue
                latest = self._latest.get(series)
                out.append(LatestValue(*series, latest.value if latest else None,
                                       latest.at if latest else None, newest.status,
                                       newest.at))
            return out

    def judge_round(self, blocks: Sequence[Block]) -> None:
        """Inline instantaneous checks of one round of durable records (the intake's blocks;
        the alert-latency path), late marks for hours the frequent check may have judged
        already."""
        now = self._clock()
        by_plant: dict[str, dict[str, list[Block]]] = {}
        for block in blocks:
            by_plant.setdefault(block.plant, {}).setdefault(block.station, []).append(block)
        # Each station's records as columns in time order, no frame and no object per record:
        # a frame filtered per plant and station cost ~0.6 ms per plant per round, series
        # from Readings ~3 µs per record (the same arrays as the frame would give).
        try:
            rounds = {plant_id: {name: _StationRound.of(items) for name, items in stations.items()}
                      for plant_id, stations in by_plant.items()}
        except Exception:
            log.exception("inline checks skipped: cannot frame %d blocks", len(blocks))
            return
        with self._lock:
            last_seen = self._last_seen
            for plant_id, stations in rounds.items():
                for name, one in stations.items():
                    seen = utc_time(one.times[-1])
                    station = (plant_id, name)
                    if station not in last_seen or last_seen[station] < seen:
                        last_seen[station] = seen
        findings: list[Finding] = []
        latest: dict[SeriesKey, float] = {}
        latest_at: dict[SeriesKey, datetime] = {}
        newest: dict[SeriesKey, Newest] = {}
        for plant_id, stations in rounds.items():
            plant = self._plants.get(plant_id)
            if plant is None:
                continue
            earliest = utc_time(min(int(one.times[0]) for one in stations.values()))
            # A record for an hour the frequent check may have judged already: re-judge it.
            if earliest < hour_floor(now, plant):
                self._book.mark_late(plant_id, earliest)
            try:
                limits = self._limits.get(plant, now.astimezone(plant.zone).date())
                # A station whose round is provably quiet needs no series at all.
                extracted = [one.series(name, key, self._checks)
                             for name, one in stations.items()
                             if not one.quiet(name, plant.stations.get(name, ()), self._checks,
                                              limits)
                             for key in plant.stations.get(name, ())]
                findings.extend(instantaneous_series_findings(
                    extracted, plant, self._checks, limits))
                for name, one in stations.items():
                    one.note_latest(plant_id, name, latest, latest_at, newest)
            except Exception:
                log.exception("inline check failed for plant %s", plant_id)
        self._remember(latest, latest_at, newest)
        if not latest and not findings:
            return
        try:
            # One observation per round, not per plant: each one reads the open alerts.
            self._alerts.observe(findings, list(latest), now, values=latest,
                                 bases=INLINE_BASES, kinds=INLINE_KINDS)
            # A round can hold a breach and, after it, readings back under the limit (a
            # backfill, a busy round): the breach must not be the round's last word.
            breached: dict[SeriesKey, datetime] = {}
            for f in findings:
                series = (f.plant, f.station, f.parameter)
                breached[series] = max(f.end, breached.get(series, f.end))
            after = {series: latest[series] for series, end in breached.items()
                     if series in latest and latest_at[series] > end}
            if after:
                self._alerts.observe([], list(after), now, values=after,
                                     bases=INLINE_BASES, kinds=INLINE_KINDS)
        except Exception:
            log.exception("inline alert update failed for %d plant(s)", len(rounds))

    def file_check(
        self, plant: Plant, result: CheckResult, start: datetime, end: datetime,
        now: datetime, job: str,
    ) -> None:
        """Windowed findings of a scheduled check to the alert book. Instantaneous breaches
        are the inline check's (re-reading them here would reopen finished episodes); silence
        (`no_data`) can only be seen here. Daily/monthly jobs pass only their own bases, so
        the review of a whole day does not reopen the day's hourly episodes."""
        bases = JOB_BASES.get(job)
        if bases is None:
            return
        scope = sorted({(c.plant, c.station, c.parameter) for c in result.completeness
                        if c.valid > 0})
        self._alerts.observe([f for f in result.findings if f.basis in bases], scope, now,
                             bases=bases)
        if job == "frequent":
            # Silence and sensor faults (stuck, jumps) need history: judged and cleared here.
            quality = [f for f in result.findings if f.kind in QUALITY_KINDS]
            self._alerts.observe(quality, scope, now, kinds=QUALITY_KINDS)

    def _remember(
        self, latest: Mapping[SeriesKey, float], latest_at: Mapping[SeriesKey, datetime],
        newest: Mapping[SeriesKey, Newest],
    ) -> None:
        with self._lock:
            known, seen, changed = self._latest, self._newest, self._changed
            for series, at in latest_at.items():
                if series in self._configured:
                    was = known.get(series)
                    if was is None or was.at <= at:
                        known[series] = Latest(latest[series], at)
                        changed.add(series)
            for series, now in newest.items():
                if series in self._configured:
                    before = seen.get(series)
                    if before is None or before.at <= now.at:
                        seen[series] = now
                        changed.add(series)


@dataclass(frozen=True, slots=True)
class _StationRound:
    """One station's records of a round as columns, in time order (stable: records of one
    time keep their arrival order, as the readings frame has them)."""

    times: np.ndarray  # int64 ns, ascending
    keys: tuple[str, ...]
    values: np.ndarray  # float64, records x keys, NaN: no value
    status: np.ndarray | None  # int64, records x keys; None: all 00

    @classmethod
    def of(cls, blocks: Sequence[Block]) -> _StationRound:
        """The station's blocks of the round, joined (one call per column set, not per
        block or record) and put in time order."""
        keys = blocks[0].keys
        if any(block.keys != keys for block in blocks):
            keys = tuple(sorted({key for block in blocks for key in block.keys}))
            values = np.concatenate([_widen(block, block.values, keys, np.nan)
                                     for block in blocks])
            status = None if all(block.status is None for block in blocks) else np.concatenate(
                [_widen(block, block.status, keys, 0) for block in blocks])
        elif len(blocks) == 1:
            values, status = blocks[0].values, blocks[0].status
        else:
            values = np.concatenate([block.values for block in blocks])
            status = None if all(block.status is None for block in blocks) else np.concatenate(
                [_widen(block, block.status, keys, 0) for block in blocks])
        times = blocks[0].times if len(blocks) == 1 else np.concatenate(
            [block.times for block in blocks])
        if len(times) > 1 and (np.diff(times) < 0).any():
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
            status = None if status is None else status[order]
        return cls(times, keys, values, status)

    def series(self, station: str, key: str, settings: CheckSettings) -> Series:
        """The series of a configured key (empty when the round has no value for it)."""
        if key in self.keys:
            column = self.keys.index(key)
            values = np.ascontiguousarray(self.values[:, column])
            status = (np.zeros(len(self.times), dtype=np.int64) if self.status is None
                      else np.ascontiguousarray(self.status[:, column]))
        else:
            values = np.full(len(self.times), np.nan)
            status = np.zeros(len(self.times), dtype=np.int64)
        return series_of(station, key, self.times, values, status, settings)

    def quiet(
        self, station: str, wanted: Collection[str], settings: CheckSettings,
        limits: EffectiveLimits,
    ) -> bool:
        """True when the round provably gives no inline finding for the keys of `wanted` it
        has (`rules.evaluate.quiet_round`, all columns at once): every record has them all
        and status 00. False sends its series through the inline checks, which decide."""
        if self.status is not None:
            return False
        columns = [index for index, key in enumerate(self.keys) if key in wanted]
        if not columns:
            return True  # no configured series in the round: nothing to judge
        grid = self.values if len(columns) == len(self.keys) else self.values[:, columns]
        if np.isnan(grid).any():
            return False
        return quiet_round(station, [self.keys[index] for index in columns], grid, settings,
                           limits)

    def note_latest(
        self, plant: str, station: str,
        latest: dict[SeriesKey, float], latest_at: dict[SeriesKey, datetime],
        newest: dict[SeriesKey, Newest],
    ) -> None:
        """Per key, the value and time of the station's last record (by time, stable) that
        has it with status 00, and the status and time of its last record of any status."""
        if self.status is None:
            last_row = self.values[-1].tolist()
            # No NaN (NaN != NaN): the last record has every key, all 00.
            if all(map(float.__eq__, last_row, last_row)):
                at = utc_time(self.times[-1])
                mark = Newest(0, at)
                for key, value in zip(self.keys, last_row, strict=True):
                    series = (plant, station, key)
                    newest[series] = mark
                    latest[series] = value
                    latest_at[series] = at
                return
        present = ~np.isnan(self.values)
        valid = present if self.status is None else present & (self.status == 0)
        count = len(self.times) - 1
        last = count - np.argmax(present[::-1], axis=0)
        last_valid = count - np.argmax(valid[::-1], axis=0)
        for column in np.flatnonzero(present.any(axis=0)).tolist():
            series = (plant, station, self.keys[column])
            row = int(last[column])
            newest[series] = Newest(0 if self.status is None else int(self.status[row, column]),
                                    utc_time(self.times[row]))
            if valid[:, column].any():
                row = int(last_valid[column])
                latest[series] = float(self.values[row, column])
                latest_at[series] = utc_time(self.times[row])


def _widen(
    block: Block, grid: np.ndarray | None, wanted: tuple[str, ...], fill: float
) -> np.ndarray:
    """A block's records x keys grid (values or status; None: all `fill`) as records x
    `wanted` (a superset of its keys), `fill` where the block has no such key."""
    if grid is not None and block.keys == wanted:
        return grid
    out = np.full((len(block), len(wanted)), fill, dtype=np.float64 if fill != 0 else np.int64)
    if grid is not None:
        out[:, [wanted.index(key) for key in block.keys]] = grid
    return out
