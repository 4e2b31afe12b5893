"""The readings frame: the one DataFrame shape every source produces and rules/reports consume.

One row per (plant, station, time): `time` (datetime64[ns, UTC]), `plant`, `station` (str),
then per parameter key a float64 column (NaN = no reading), then its int64 `<key>_status`
column (0 measuring, 1 calibrating, 2 device error), keys in sorted order. Rows sorted by
time, plant, station (stable: rows equal in all three keep their source order). Sources
(InfluxDB v1/v2, offline CSV, the in-memory store) hand their column arrays to `build_frame`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rules.errors import RulesError

TIME = "time"
PLANT = "plant"
STATION = "station"
ID_COLUMNS = (TIME, PLANT, STATION)
SORT_ORDER = (TIME, PLANT, STATION)
STATUS_SUFFIX = "_status"
# A status column's numbers as Circular 10 writes them (index = number).
STATUS_CODES = ("00", "01", "02")

# A column as a source holds it: a numpy array, a pandas Series or a plain sequence.
Column = np.ndarray | pd.Series | Sequence[Any]


def status_column(key: str) -> str:
    """The status column of parameter `key` (also the InfluxDB status field's name)."""
    return key + STATUS_SUFFIX


def is_status_column(name: str) -> bool:
    return name.endswith(STATUS_SUFFIX)


def value_keys(frame: pd.DataFrame) -> list[str]:
    """The parameter keys of a frame: every column but the ids and the status columns."""
    return [str(c) for c in frame.columns
            if c not in ID_COLUMNS and not is_status_column(str(c))]


def ns_from_seconds(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (float64, from `datetime.timestamp()`) → int64 ns, as the frame's times:
    whole microseconds fit a float exactly, ns from them by integer multiplication."""
    return np.round(seconds * 1e6).astype(np.int64) * 1000


def empty_frame(keys: Sequence[str] = ()) -> pd.DataFrame:
    """A readings frame without rows (with a value and a status column per key)."""
    none = np.empty(0, dtype=np.int64)
    return build_frame(none, [], [], {key: [] for key in keys})


def build_frame(
    time: Column,
    plant: Column,
    station: Column,
    values: Mapping[str, Column],
    status: Mapping[str, Column] | None = None,
) -> pd.DataFrame:
    """Column arrays in, the canonical readings frame out (the one door every source uses).

    `time`: int64 ns since epoch (UTC), or anything pandas reads as aware times. `values`:
    key → floats (None/NaN = no reading; a non-number becomes NaN). `status`: key → codes
    (None/NaN = 0); keys without one get zeros, a status key without values gets NaN values.
    """
    status = status or {}
    ns = _ns(time)
    n = len(ns)
    columns: dict[str, np.ndarray] = {
        PLANT: _strings(PLANT, plant, n),
        STATION: _strings(STATION, station, n),
    }
    keys = sorted(set(values) | set(status))
    for key in keys:
        columns[key] = _numbers(key, values[key], n, np.float64) if key in values \
            else np.full(n, np.nan)
    for key in keys:
        name = status_column(key)
        columns[name] = _numbers(name, status[key], n, np.int64) if key in status \
            else np.zeros(n, dtype=np.int64)
    order = _canonical_order(ns, columns[PLANT], columns[STATION])
    if order is not None:
        ns = ns[order]
        columns = {name: column[order] for name, column in columns.items()}
    frame = pd.DataFrame({TIME: pd.to_datetime(ns, unit="ns", utc=True), **columns})
    for tag in (PLANT, STATION):
        frame[tag] = frame[tag].astype(str)  # pandas' string dtype (object before pandas 3)
    return frame


def _ns(time: Column) -> np.ndarray:
    if isinstance(time, np.ndarray) and time.dtype == np.int64:
        return time
    if len(time) == 0:
        return np.empty(0, dtype=np.int64)
    try:
        index = pd.DatetimeIndex(pd.to_datetime(time, utc=True))
    except (TypeError, ValueError) as exc:
        raise RulesError(f"readings frame: bad time column: {exc}") from exc
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _strings(name: str, column: Column, n: int) -> np.ndarray:
    out = pd.Series(column, dtype=object).astype(str).to_numpy(dtype=object)
    _check_length(name, out, n)
    return out


def _numbers(name: str, column: Column, n: int, dtype: type[np.generic]) -> np.ndarray:
    """A column as float64 (NaN where no number) or as int64 codes (0 where none)."""
    if isinstance(column, np.ndarray) and column.dtype == dtype:
        out = column
    else:
        series = column if isinstance(column, pd.Series) else pd.Series(column, dtype=object)
        if not pd.api.types.is_numeric_dtype(series.dtype):
            series = pd.to_numeric(series, errors="coerce")
        out = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if dtype is not np.float64:
            out = np.where(np.isnan(out), 0.0, out).astype(dtype)
    _check_length(name, out, n)
    return out


def _check_length(name: str, column: np.ndarray, n: int) -> None:
    if len(column) != n:
        raise RulesError(f"readings frame: column {name!r} has {len(column)} rows, "
                         f"time has {n}")


def _canonical_order(
    ns: np.ndarray, plant: np.ndarray, station: np.ndarray
) -> np.ndarray | None:
    """The stable permutation into (time, plant, station) order; None when already in it
    (the common case: stores answer in time order, a batch arrives in order)."""
    if len(ns) < 2:
        return None
    step = np.diff(ns)
    if not (step < 0).any():
        tied = np.flatnonzero(step == 0)
        if len(tied) == 0:
            return None
        # Equal times: in order when (plant, station) does not go down.
        p0, p1 = plant[tied], plant[tied + 1]
        same = p0 == p1
        if not ((p0 > p1) | (same & (station[tied] > station[tied + 1]))).any():
            return None
    plant_codes = pd.factorize(plant, sort=True)[0]
    station_codes = pd.factorize(station, sort=True)[0]
    # lexsort is stable; its last key is the primary one.
    return np.lexsort((station_codes, plant_codes, ns))
