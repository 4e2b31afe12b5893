"""What the scheduled checks keep of every window they judge, for readers that must not scan raw
readings (the console, the public pages): per plant-local hour and series the mean of valid
readings, their min/max, the valid and excluded counts and the judgement against the limit in
force (`HourResult`); per hour the plant's volumes (`HourVolume`); their sums over a day or a
month (`Tally`); and a series' newest reading (`LatestValue`). Pure: a readings frame in, rows
out; the same windows, means and limits as the hourly-mean check (`rules.bases`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from rules.bases import Context, ratio_over, ratio_under
from rules.episodes import local_time
from rules.errors import RulesError
from rules.limits import limit_schedule, schedule_bounds
from rules.permit import FLOW_KEYS, Plant
from rules.series import Series, extract, frame_times, in_range, plant_rows, station_rows, to_ns
from rules.settings import CheckSettings
from rules.treatment import HourLedger, hour_ledger
from rules.windows import Windows, calendar_pieces, calendar_windows, window_means

_NS_PER_H = 3.6e12


@dataclass(frozen=True, slots=True)
class HourResult:
    """One series over one plant-local hour (`start` aware UTC; a partial hour at the edge of
    the checked range has `whole` False, its expected count pro rata, and is never judged).

    `judged`: a limited parameter of a compliance station, judged on hourly means, with enough
    valid readings; `over`: its mean broke the limit; `ratio`: mean ÷ max (or min ÷ mean for a
    lower bound, the larger of the two for a range), as findings give it; `serious`: the ratio
    reached the chronic rule's factor for the parameter."""

    plant: str
    station: str
    parameter: str
    start: datetime
    day: str  # plant-local date of the hour, YYYY-MM-DD
    whole: bool
    expected: int
    valid: int
    excluded: int  # readings present but not valid: status 01/02 or impossible values
    mean: float | None
    low: float | None  # min and max of the valid readings
    high: float | None
    limit_min: float | None
    limit_max: float | None
    judged: bool
    over: bool
    serious: bool
    ratio: float | None


@dataclass(frozen=True, slots=True)
class HourVolume:
    """A plant's volumes over one plant-local hour: what its treatment ledger is made of.
    `measured`: both meters measured the hour (only such hours count in the ratios)."""

    plant: str
    start: datetime
    day: str
    inflow_m3: float
    outflow_m3: float
    bypass_m3: float
    compliant_m3: float  # outflow of the hour if every judged parameter met its limit
    measured: bool
    unmeasured_h: float


@dataclass(frozen=True, slots=True)
class Tally:
    """The hour results of one series summed over a plant-local day (`period` YYYY-MM-DD) or
    month (YYYY-MM): judged windows, windows over the limit, serious ones, the worst ratio,
    and the readings expected, valid and excluded (completeness)."""

    plant: str
    station: str
    parameter: str
    period: str
    judged: int
    over: int
    serious: int
    worst: float | None
    expected: int
    valid: int
    excluded: int

    @property
    def fraction(self) -> float:
        """Valid ÷ expected readings (completeness), 0 when nothing was expected."""
        return 0.0 if self.expected <= 0 else min(1.0, self.valid / self.expected)


@dataclass(frozen=True, slots=True)
class LatestValue:
    """A series' newest reading as the collector keeps it (the console's live values): the
    newest valid (status 00) value and its time, and the newest reading's status (0 measuring,
    1 calibrating, 2 device error) and time, valid or not."""

    plant: str
    station: str
    parameter: str
    value: float | None
    at: datetime | None
    status: int
    seen: datetime


def hourly_results(
    frame: pd.DataFrame, plant: Plant, settings: CheckSettings, start: datetime, end: datetime
) -> tuple[list[HourResult], list[HourVolume]]:
    """The hour results of every configured series of `plant` and its hour volumes over
    [start, end), cut at plant-local hours. The last piece may be a partial hour (the hour
    still running); a range that starts inside an hour begins at the next one (that hour
    belongs to the window holding its start)."""
    zone = plant.zone
    local = start.astimezone(zone)
    if local.replace(minute=0, second=0, microsecond=0) != local:
        start = (local.replace(minute=0, second=0, microsecond=0)
                 + timedelta(hours=1)).astimezone(UTC)
    lo, hi = to_ns(start), to_ns(end)
    if hi <= lo:
        return [], []
    pieces = calendar_pieces("hourly_mean", zone, start, end)
    n = len(pieces)
    whole = np.isin(pieces.starts, calendar_windows("hourly_mean", zone, start, end).starts)
    moments = [local_time(int(t), zone) for t in pieces.starts]
    days = [moment.date().isoformat() for moment in moments]
    utc = [moment.astimezone(UTC) for moment in moments]
    schedule = limit_schedule(plant, start, end)
    limited = set(schedule.keys())
    stations = station_rows(in_range(plant_rows(frame, plant.id), lo, hi))
    results: list[HourResult] = []
    flows: dict[str, list[Series]] = {key: [] for key in FLOW_KEYS}
    judged_series: list[Series] = []
    for station, keys in plant.stations.items():
        rows = stations.get(station)
        times = frame_times(rows) if rows is not None and not rows.empty else None
        for key in keys:
            series = extract(rows, station, key, settings, times)
            if key in flows:
                flows[key].append(series)
            means = window_means(series, pieces, plant.interval_delta,
                                 settings.min_valid_fraction)
            idx = pieces.index_of(series.times)
            inside = idx >= 0
            use = inside & series.valid
            excluded = np.bincount(idx[inside & ~series.valid], minlength=n)[:n]
            low = np.full(n, np.inf)
            high = np.full(n, -np.inf)
            np.minimum.at(low, idx[use], series.values[use])
            np.maximum.at(high, idx[use], series.values[use])
            limit_min = limit_max = np.full(n, np.nan)
            judged = np.zeros(n, dtype=bool)
            ratio = np.full(n, np.nan)
            if station in settings.compliance_stations and key in limited:
                judged_series.append(series)  # the treatment ledger's compliance
                if "hourly_mean" in settings.bases_for(key):
                    limit_min, limit_max = schedule_bounds(schedule, key, pieces.starts)
                    judged = whole & means.counts
                    ratio = _ratios(means.means, limit_min, limit_max)
            over = judged & ((means.means > limit_max) | (means.means < limit_min))
            serious = judged & (ratio >= settings.chronic.factor(key))
            for i in range(n):
                counted = bool(means.valid[i] > 0)
                results.append(HourResult(
                    plant=plant.id, station=station, parameter=key, start=utc[i], day=days[i],
                    whole=bool(whole[i]), expected=int(means.expected[i]),
                    valid=int(means.valid[i]), excluded=int(excluded[i]),
                    mean=float(means.means[i]) if counted else None,
                    low=float(low[i]) if counted else None,
                    high=float(high[i]) if counted else None,
                    limit_min=_number(limit_min[i]), limit_max=_number(limit_max[i]),
                    judged=bool(judged[i]), over=bool(over[i]), serious=bool(serious[i]),
                    ratio=_number(ratio[i]) if judged[i] else None,
                ))
    context = Context(plant=plant.id, zone=zone, interval=plant.interval_delta,
                      settings=settings, schedule=schedule)
    ledger = hour_ledger(context, flows, judged_series, start, end)
    return results, _volumes(plant, ledger, pieces, days, utc)


def _ratios(means: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """mean ÷ max and min ÷ mean (the larger where both bounds exist), as `rules.bases` rates
    an exceedance and a value below the minimum; NaN where neither bound applies."""
    over = np.where(np.isnan(highs), np.nan, ratio_over(means, highs))
    under = np.where(np.isnan(lows), np.nan, ratio_under(means, lows))
    return np.fmax(over, under)


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _volumes(
    plant: Plant, ledger: HourLedger, pieces: Windows, days: list[str], utc: list[datetime],
) -> list[HourVolume]:
    """The hour ledger (`rules.treatment.hour_ledger`, as the treatment table makes it) as
    rows."""
    if not np.array_equal(ledger.hours.edges, pieces.edges):
        raise RulesError("hour ledger and hour results cut the range differently")
    span = (pieces.ends - pieces.starts).astype(np.float64)
    unmeasured = (span - np.minimum(ledger.coverage["flow_in"], ledger.coverage["flow_out"]))
    volumes = ledger.volumes
    return [
        HourVolume(
            plant=plant.id, start=utc[i], day=days[i],
            inflow_m3=float(volumes["flow_in"][i]), outflow_m3=float(volumes["flow_out"][i]),
            bypass_m3=float(volumes["flow_bypass"][i]),
            compliant_m3=float(ledger.compliant_out[i]), measured=bool(ledger.measured[i]),
            unmeasured_h=float(unmeasured[i]) / _NS_PER_H,
        )
        for i in range(len(pieces))
    ]
