"""Evaluation bases: judge one parameter's readings against its limits.

`instantaneous` judges every valid reading; `hourly_mean`, `daily_mean` and `monthly_mean`
judge the mean of valid readings per plant-local calendar window. pH-like range limits give
`exceedance` above the max and `below_minimum` under the min. Each returns merged episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from rules.episodes import Subject, merge_episodes
from rules.findings import Finding
from rules.limits import LimitSchedule, schedule_bounds
from rules.series import Series
from rules.settings import CheckSettings
from rules.windows import calendar_windows, window_means


@dataclass(frozen=True, slots=True)
class Context:
    """What every basis needs besides the series: plant id, zone, interval, settings, limits."""

    plant: str
    zone: ZoneInfo
    interval: timedelta
    settings: CheckSettings
    schedule: LimitSchedule


def ratio_over(values: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """How far over a maximum: value ÷ max (inf for a max of 0 or less)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(highs > 0, values / highs, np.inf)


def ratio_under(values: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """How far under a minimum: min ÷ value, so the same severity bands apply (pH 4 vs 5.5
    → 1.375); inf for a value of 0 or less."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, lows / values, np.inf)


def _limit_findings(
    ctx: Context, series: Series, basis: str, starts: np.ndarray, ends: np.ndarray,
    values: np.ndarray, judged: np.ndarray, joined: np.ndarray, bound_times: np.ndarray,
) -> list[Finding]:
    lows, highs = schedule_bounds(ctx.schedule, series.key, bound_times)
    over = judged & (values > highs)
    under = judged & (values < lows)
    classify = ctx.settings.severity.classify
    found: list[Finding] = []
    if over.any():
        found += merge_episodes(
            Subject(ctx.plant, series.station, series.key, "exceedance", basis, ctx.zone),
            starts, ends, over, joined, values, highs, ratio_over(values, highs), classify,
        )
    if under.any():
        found += merge_episodes(
            Subject(ctx.plant, series.station, series.key, "below_minimum", basis, ctx.zone),
            starts, ends, under, joined, values, lows, ratio_under(values, lows), classify,
        )
    return found


def instantaneous(ctx: Context, series: Series) -> list[Finding]:
    """Every valid reading against the limit in force at its time; a data gap longer than
    `no_data_after_intervals` splits an episode."""
    times = series.times[series.valid]
    values = series.values[series.valid]
    if len(times) == 0:
        return []
    gap = ctx.settings.no_data_after_intervals * ctx.interval.total_seconds() * 1e9
    joined = np.ones(len(times), dtype=bool)
    joined[1:] = np.diff(times) <= gap
    judged = np.ones(len(times), dtype=bool)
    return _limit_findings(ctx, series, "instantaneous", times, times, values, judged,
                           joined, times)


def mean_basis(
    ctx: Context, series: Series, basis: str, start: datetime, end: datetime
) -> list[Finding]:
    """Means per calendar window wholly inside [start, end); windows short of valid readings
    give `insufficient_data` (value = valid fraction, limit = the required fraction)."""
    windows = calendar_windows(basis, ctx.zone, start, end)
    if len(windows) == 0:
        return []
    means = window_means(series, windows, ctx.interval, ctx.settings.min_valid_fraction)
    joined = np.ones(len(windows), dtype=bool)
    found = _limit_findings(ctx, series, basis, windows.starts, windows.ends, means.means,
                            means.counts, joined, windows.starts)
    short = ~means.counts
    if short.any():
        fraction = means.fraction
        required = np.full(len(windows), ctx.settings.min_valid_fraction)
        found += merge_episodes(
            Subject(ctx.plant, series.station, series.key, "insufficient_data", basis, ctx.zone),
            windows.starts, windows.ends, short, joined, fraction, required, -fraction,
            ctx.settings.data_severity, with_ratio=False,
        )
    return found


def hourly_mean(ctx: Context, series: Series, start: datetime, end: datetime) -> list[Finding]:
    """Hourly means (plant-local clock hours)."""
    return mean_basis(ctx, series, "hourly_mean", start, end)


def daily_mean(ctx: Context, series: Series, start: datetime, end: datetime) -> list[Finding]:
    """Daily means over plant-local calendar days."""
    return mean_basis(ctx, series, "daily_mean", start, end)


def monthly_mean(ctx: Context, series: Series, start: datetime, end: datetime) -> list[Finding]:
    """Monthly means over plant-local calendar months."""
    return mean_basis(ctx, series, "monthly_mean", start, end)
