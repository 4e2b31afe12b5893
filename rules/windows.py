"""Calendar windows in the plant's zone (hour, day, month) and the valid-data means over them.

A window counts only when it lies wholly inside the checked range; its mean counts only with
at least `min_valid_fraction` of the readings expected from the plant's interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from rules.errors import RulesError
from rules.series import Series, to_ns

_Day = TypeVar("_Day", date, datetime)
_FREQ = {"hourly_mean": "h", "daily_mean": "D", "monthly_mean": "MS"}


@dataclass(frozen=True, slots=True)
class Windows:
    """Consecutive windows: `edges` (UTC ns, n + 1 values) bound n windows."""

    basis: str
    edges: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return self.edges[:-1]

    @property
    def ends(self) -> np.ndarray:
        return self.edges[1:]

    def __len__(self) -> int:
        return max(0, len(self.edges) - 1)

    def index_of(self, times: np.ndarray) -> np.ndarray:
        """Window index of each time; -1 outside every window."""
        idx = np.searchsorted(self.edges, times, side="right") - 1
        idx[(idx < 0) | (idx >= len(self))] = -1
        return idx


def _local_ceil(moment: pd.Timestamp, freq: str) -> pd.Timestamp:
    if freq == "MS":
        month = moment.normalize().replace(day=1)
        return month if month == moment else month + pd.offsets.MonthBegin(1)
    return moment.ceil(freq)


def _local_floor(moment: pd.Timestamp, freq: str) -> pd.Timestamp:
    if freq == "MS":
        return moment.normalize().replace(day=1)
    return moment.floor(freq)


def local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local day (in `zone`) containing `moment`."""
    return datetime.combine(moment.astimezone(zone).date(), time(), tzinfo=zone)


def month_span(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local month `YYYY-MM` as [its first midnight, the next month's) in `zone`; ValueError
    for any other text (each caller names its own field)."""
    first = datetime.strptime(month, "%Y-%m").replace(tzinfo=zone)
    return first, next_month(first)


def next_month(first: _Day) -> _Day:
    """The first of the month after `first` (a month's first day; a date, or a datetime
    keeping its time and zone)."""
    return (first + timedelta(days=32)).replace(day=1)


def calendar_windows(basis: str, zone: ZoneInfo, start: datetime, end: datetime) -> Windows:
    """The hour/day/month windows (plant-local calendar) lying wholly inside [start, end)."""
    if basis not in _FREQ:
        raise RulesError(f"no calendar windows for basis {basis!r}")
    freq = _FREQ[basis]
    lo = pd.Timestamp(start).tz_convert(zone).tz_localize(None)
    hi = pd.Timestamp(end).tz_convert(zone).tz_localize(None)
    first, last = _local_ceil(lo, freq), _local_floor(hi, freq)
    if last <= first:
        return Windows(basis, np.empty(0, dtype=np.int64))
    local = pd.date_range(first, last, freq=freq)
    aware = local.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    aware = aware[np.asarray(aware.notna(), dtype=bool)]
    edges = np.asarray(aware.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    return Windows(basis, edges)


def calendar_pieces(basis: str, zone: ZoneInfo, start: datetime, end: datetime) -> Windows:
    """[start, end) cut at plant-local hour/day/month starts (end pieces may be partial)."""
    lo, hi = to_ns(start), to_ns(end)
    if hi <= lo:
        return Windows(basis, np.empty(0, dtype=np.int64))
    pad = timedelta(days=32 if basis == "monthly_mean" else 1)
    inner = calendar_windows(basis, zone, start - pad, end + pad)
    cuts = inner.edges[(inner.edges > lo) & (inner.edges < hi)]
    return Windows(basis, np.concatenate(([lo], cuts, [hi])).astype(np.int64))


def day_pieces(zone: ZoneInfo, start: datetime, end: datetime) -> Windows:
    """[start, end) cut at plant-local midnights (first/last pieces may be partial days)."""
    return calendar_pieces("daily_mean", zone, start, end)


@dataclass(frozen=True, slots=True)
class WindowMeans:
    """Per window: mean of valid readings, valid count, expected count, whether it counts."""

    windows: Windows
    means: np.ndarray
    valid: np.ndarray
    expected: np.ndarray
    counts: np.ndarray  # bool: enough valid readings

    @property
    def fraction(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, np.minimum(1.0, self.valid / self.expected), 0.0)


def expected_readings(windows: Windows, interval: timedelta) -> np.ndarray:
    """Readings a window should hold at the plant's interval (its length ÷ interval)."""
    step = interval.total_seconds() * 1e9
    return np.floor((windows.ends - windows.starts) / step + 1e-9)


def window_means(
    series: Series, windows: Windows, interval: timedelta, min_valid_fraction: float
) -> WindowMeans:
    """Means of valid readings per window, and whether each holds enough of them."""
    n = len(windows)
    idx = windows.index_of(series.times)
    use = series.valid & (idx >= 0)
    counts = np.bincount(idx[use], minlength=n).astype(np.float64)[:n]
    sums = np.bincount(idx[use], weights=series.values[use], minlength=n)[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    expected = expected_readings(windows, interval)
    # a small tolerance keeps 0.75 × 12 = 9 readings from failing on float rounding
    enough = (counts > 0) & (counts + 1e-9 >= min_valid_fraction * expected)
    return WindowMeans(windows, means, counts, expected, enough)
