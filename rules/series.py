"""Readings of one station/parameter pulled out of a readings frame as numpy arrays.

Everything downstream works on these arrays (UTC nanoseconds, values, validity) so each
check is vectorised and never loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from rules.errors import RulesError
from rules.frame import status_column
from rules.settings import CheckSettings

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Series:
    """One station/parameter: rows that carry a value, in time order.

    `valid` = status 00 and physically possible; `status` is the Circular 10 code (0/1/2).
    """

    station: str
    key: str
    times: np.ndarray  # int64 ns since epoch, UTC, ascending
    values: np.ndarray  # float64
    status: np.ndarray  # int64
    valid: np.ndarray  # bool

    @property
    def excluded(self) -> int:
        """Readings present but not valid (calibrating, device error or impossible)."""
        return int(len(self.valid) - np.count_nonzero(self.valid))


def to_ns(moment: datetime | pd.Timestamp) -> int:
    """Aware datetime → int ns since epoch (UTC); naive input is refused."""
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise RulesError("times given to the rules must be timezone-aware")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def frame_times(frame: pd.DataFrame) -> np.ndarray:
    """The frame's `time` column as int64 UTC ns (naive times are taken as UTC)."""
    index = pd.DatetimeIndex(frame["time"])
    if index.tz is None:
        index = index.tz_localize("UTC")
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def plant_rows(frame: pd.DataFrame, plant_id: str) -> pd.DataFrame:
    """Rows of one plant, sorted by time (frames may hold several plants)."""
    if frame.empty or "plant" not in frame.columns:
        return frame.iloc[0:0]
    mine = np.asarray(frame["plant"].to_numpy() == plant_id, dtype=bool)
    if not mine.all():
        frame = frame[mine]
    times = frame_times(frame)
    if len(times) > 1 and (np.diff(times) < 0).any():
        frame = frame.iloc[np.argsort(times, kind="stable")]
    return frame


def in_range(frame: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Rows with lo <= time < hi (UTC ns)."""
    if frame.empty:
        return frame
    times = frame_times(frame)
    keep = (times >= lo) & (times < hi)
    return frame if keep.all() else frame[keep]


def station_rows(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split a one-plant frame by station."""
    if frame.empty:
        return {}
    stations = frame["station"].to_numpy()
    names = pd.unique(stations)
    if len(names) == 1:
        return {str(names[0]): frame}
    return {str(name): frame[stations == name] for name in names}


def extract(
    rows: pd.DataFrame | None, station: str, key: str, settings: CheckSettings,
    times: np.ndarray | None = None,
) -> Series:
    """The series of `key` at `station` (empty when the column or the station is absent);
    `times`: `frame_times(rows)` when the caller has it already (several keys, one station)."""
    if rows is None or rows.empty or key not in rows.columns:
        empty = np.empty(0)
        return Series(station, key, empty.astype(np.int64), empty, empty.astype(np.int64),
                      empty.astype(bool))
    values = rows[key].to_numpy(dtype=np.float64, na_value=np.nan)
    status_col = status_column(key)
    if status_col in rows.columns:
        status = rows[status_col].to_numpy(dtype=np.float64, na_value=0.0).astype(np.int64)
    else:
        status = np.zeros(len(values), dtype=np.int64)
    return series_of(station, key, frame_times(rows) if times is None else times, values,
                     status, settings)


def series_of(
    station: str, key: str, times: np.ndarray, values: np.ndarray, status: np.ndarray,
    settings: CheckSettings,
) -> Series:
    """The series from columns already in time order (int64 ns, float64 with NaN where a row
    has no value, int64 status): rows without a value dropped, validity judged. Lets a caller
    holding readings skip the frame (the inline check of every ingested batch)."""
    present = ~np.isnan(values)
    if not present.all():
        times, values, status = times[present], values[present], status[present]
    lo, hi = settings.physical_range(key)
    valid = (status == 0) & (values >= lo) & (values <= hi)
    return Series(station, key, times, values, status, valid)
