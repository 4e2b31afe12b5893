"""Data quality: completeness per day, silent sensors (`no_data`) and sensor faults.

Faults are impossible values (outside the physical range), a value stuck for N readings, and a
jump between consecutive readings beyond a configured step.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from rules.episodes import Subject, local_time, merge_episodes
from rules.findings import Finding
from rules.results import CompletenessRow
from rules.series import Series, to_ns
from rules.settings import CheckSettings
from rules.windows import day_pieces, expected_readings


def completeness(
    plant: str, zone: ZoneInfo, interval: timedelta, series: Series,
    start: datetime, end: datetime,
) -> list[CompletenessRow]:
    """Expected vs valid readings per plant-local day of [start, end) (partial days pro rata)."""
    pieces = day_pieces(zone, start, end)
    if len(pieces) == 0:
        return []
    expected = expected_readings(pieces, interval)
    idx = pieces.index_of(series.times)
    n = len(pieces)
    inside = idx >= 0
    valid = np.bincount(idx[inside & series.valid], minlength=n)[:n]
    excluded = np.bincount(idx[inside & ~series.valid], minlength=n)[:n]
    rows = []
    for i in range(n):
        day: date = local_time(int(pieces.starts[i]), zone).date()
        rows.append(CompletenessRow(
            plant=plant, station=series.station, parameter=series.key, date=day,
            expected=int(expected[i]), valid=int(valid[i]), excluded=int(excluded[i]),
        ))
    return rows


def silences(
    plant: str, zone: ZoneInfo, interval: timedelta, series: Series, settings: CheckSettings,
    start: datetime, horizon: datetime,
) -> list[Finding]:
    """`no_data` for every gap between readings (valid or not) longer than N × interval, the
    silence from the last reading up to `horizon`, and the whole range for a sensor never
    seen. The stretch before the first reading is not reported: the frame cannot tell a gap
    from a station that started reporting (those windows show as `insufficient_data`)."""
    lo, hi = to_ns(start), to_ns(horizon)
    times = series.times[(series.times >= lo) & (series.times <= hi)]
    marks = np.concatenate((times if len(times) else [lo], [hi]))
    gaps = np.diff(marks)
    limit = settings.no_data_after_intervals * interval.total_seconds() * 1e9
    found = []
    for i in np.flatnonzero(gaps > limit).tolist():
        found.append(Finding(
            plant=plant, station=series.station, parameter=series.key, kind="no_data",
            basis="instantaneous", start=local_time(int(marks[i]), zone),
            end=local_time(int(marks[i + 1]), zone), value=None, limit=None, ratio=None,
            severity=settings.data_severity,
        ))
    return found


def faults(
    plant: str, zone: ZoneInfo, interval: timedelta, series: Series, settings: CheckSettings,
) -> list[Finding]:
    """`sensor_fault` episodes: device-error status (02), impossible values, stuck values,
    implausible jumps. Values are judged on status-00 readings only (calibration values are
    odd by design, and calibration itself is no fault)."""
    subject = Subject(plant, series.station, series.key, "sensor_fault", "instantaneous", zone)
    severity = settings.data_severity
    found: list[Finding] = []
    gap = settings.no_data_after_intervals * interval.total_seconds() * 1e9
    error = series.status == 2
    if error.any():  # the instrument itself reports an error (Circular 10 code 02)
        joined = np.ones(len(error), dtype=bool)
        joined[1:] = np.diff(series.times) <= gap
        found += merge_episodes(subject, series.times, series.times, error, joined,
                                series.values, None, np.zeros(len(error)), severity,
                                with_ratio=False)
    measuring = series.status == 0
    times, values = series.times[measuring], series.values[measuring]
    if len(times) == 0:
        return found
    adjacent = np.ones(len(times), dtype=bool)

    lo, hi = settings.physical_range(series.key)
    impossible = (values < lo) | (values > hi)
    if impossible.any():
        # worst = furthest outside the possible range
        distance = np.maximum(lo - values, values - hi)
        found += merge_episodes(subject, times, times, impossible, adjacent, values, None,
                                distance, severity, with_ratio=False)

    ok = ~impossible
    times, values = times[ok], values[ok]
    n = len(values)
    if n >= settings.stuck_readings and series.key not in settings.stuck_exempt:
        same = np.zeros(n, dtype=bool)
        same[1:] = (values[1:] == values[:-1]) & (np.diff(times) <= gap)
        starts = np.flatnonzero(~same)
        lengths = np.diff(np.append(starts, n))
        long = lengths >= settings.stuck_readings
        for i, length in zip(starts[long].tolist(), lengths[long].tolist(), strict=True):
            found.append(Finding(
                plant=plant, station=series.station, parameter=series.key,
                kind="sensor_fault", basis="instantaneous",
                start=local_time(int(times[i]), zone),
                end=local_time(int(times[i + length - 1]), zone),
                value=float(values[i]), limit=None, ratio=None, severity=severity,
            ))
    step = settings.jump_steps.get(series.key)
    if step is not None and n > 1:
        delta = np.abs(np.diff(values))
        jump = np.zeros(n, dtype=bool)
        jump[1:] = (delta > step) & (np.diff(times) <= gap)
        for k in np.flatnonzero(jump).tolist():
            found.append(Finding(
                plant=plant, station=series.station, parameter=series.key,
                kind="sensor_fault", basis="instantaneous",
                start=local_time(int(times[k - 1]), zone), end=local_time(int(times[k]), zone),
                value=float(delta[k - 1]), limit=float(step), ratio=float(delta[k - 1] / step),
                severity=severity,
            ))
    return found
