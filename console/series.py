"""Chart and API series of one station/parameter: raw readings (the 24-hour view, read from the
store for one plant) or hourly results (7 and 30 days, from the check book), each point with
what makes it valid or excluded; and the query a series request must carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from starlette.datastructures import QueryParams

from console.errors import BadRequest, check_parameters
from rules.frame import STATUS_CODES, status_column
from rules.permit import Plant
from rules.summary import HourResult

MAX_SPAN = timedelta(days=31)
READINGS_UP_TO = timedelta(days=2)  # longer spans are drawn from hourly results
SERIES_PARAMETERS = frozenset({"parameter", "station", "from", "to", "resolution", "lang"})


@dataclass(frozen=True)
class SeriesQuery:
    station: str
    parameter: str
    start: datetime
    end: datetime
    resolution: str  # reading | hour


def parse_time(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: not an ISO 8601 time: {text!r}", "bad_time",
                         name=name, value=text) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: give a UTC offset (e.g. 2026-10-01T00:00:00+07:00)",
                         "bad_time", name=name, value=text)
    return moment


def series_query(plant: Plant, params: QueryParams, now: datetime,
                 compliance: tuple[str, ...]) -> SeriesQuery:
    """The request's series, checked: a configured parameter (and station), an aware range of
    at most 31 days ending after it starts; 400 with a message otherwise."""
    check_parameters(params, SERIES_PARAMETERS)
    key = params.get("parameter", "")
    if not key:
        raise BadRequest("parameter: required (e.g. parameter=cod)", "parameter_needed")
    holding = [s for s, keys in plant.stations.items() if key in keys]
    if not holding:
        raise BadRequest(f"parameter: {key!r} is not measured at plant {plant.id!r}",
                         "parameter_unknown", parameter=key)
    station = params.get("station") or next((s for s in holding if s in compliance),
                                            holding[0])
    if station not in holding:
        raise BadRequest(f"station: {station!r} does not measure {key!r}", "station_unknown",
                         station=station)
    end = parse_time(params["to"], "to") if "to" in params else now
    start = parse_time(params["from"], "from") if "from" in params else end - timedelta(
        hours=24)
    if end <= start:
        raise BadRequest("from: must be before to", "bad_range")
    if end - start > MAX_SPAN:
        raise BadRequest("from/to: at most 31 days", "range_too_long")
    resolution = params.get("resolution") or (
        "reading" if end - start <= READINGS_UP_TO else "hour")
    if resolution not in ("reading", "hour"):
        raise BadRequest("resolution: reading or hour", "bad_resolution")
    return SeriesQuery(station, key, start, end, resolution)


def reading_points(frame: pd.DataFrame, station: str, key: str) -> list[dict[str, Any]]:
    """Every reading of the series, with its status code; non-00 readings are excluded from
    every mean and judgement (Circular 10)."""
    if frame.empty or key not in frame.columns:
        return []
    rows = frame[(frame["station"] == station) & frame[key].notna()]
    times = pd.DatetimeIndex(rows["time"]).tz_convert("UTC")
    values = rows[key].to_numpy(dtype=np.float64)
    column = status_column(key)
    codes = (rows[column].to_numpy(dtype=np.int64) if column in rows.columns
             else np.zeros(len(rows), dtype=np.int64))
    return [{"time": t.isoformat(), "value": float(v), "status": STATUS_CODES[int(c)]
             if 0 <= c < len(STATUS_CODES) else str(c)}
            for t, v, c in zip(times, values, codes, strict=True)]


def hour_points(hours: list[HourResult], station: str) -> list[dict[str, Any]]:
    """Hourly means of valid readings with min/max, the valid and excluded counts, whether the
    hour was judged and broke its limit."""
    return [{"time": h.start.isoformat(), "value": h.mean, "min": h.low, "max": h.high,
             "valid": h.valid, "excluded": h.excluded, "expected": h.expected,
             "judged": h.judged, "over": h.over, "ratio": finite(h.ratio)}
            for h in hours if h.station == station]


def finite(value: float | None) -> float | None:
    """JSON has no infinity: a ratio against a zero limit shows as null."""
    return value if value is not None and math.isfinite(value) else None
