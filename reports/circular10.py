"""Regulator data files in the Circular 10/2021 layout: one text file per record time and station.

Each file is named `<Province>_<Facility>_<Station>_<yyyyMMddHHmmss>.txt` (plant-local time)
and holds one line per parameter: name, value, unit, time, status (`00`/`01`/`02`), separated
by tabs. The layout is common practice, not a confirmed text [M, low confidence], so every
part of it comes from `Circular10Layout`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from reports.errors import ReportsError
from reports.filenames import check_name, safe_part
from reports.settings import Circular10Layout
from rules.frame import STATUS_CODES, status_column
from rules.permit import Plant

Progress = Callable[[int, int], None]


def circular10_lines(
    times: pd.Series, station_frame: pd.DataFrame, keys: list[str], layout: Circular10Layout
) -> list[list[str]]:
    """Per row of `station_frame`: its lines (without line ends); empty when it has no data."""
    fmt = f"{{:.{layout.decimals}f}}"
    stamps = times.dt.strftime(layout.time_format).tolist()
    columns = []
    for key in keys:
        values = station_frame[key].to_numpy(dtype="float64") if key in station_frame else None
        status_col = status_column(key)
        if status_col in station_frame:
            status = station_frame[status_col].fillna(0).to_numpy(dtype="int64")
        else:
            status = np.zeros(len(station_frame), dtype="int64")
        if values is None:
            continue
        bad = ~np.isin(status, (0, 1, 2))
        if bad.any():
            raise ReportsError(f"{key}: status codes must be 0, 1 or 2")
        columns.append((layout.parameter_name(key), layout.unit(key), values, status))
    sep = layout.separator
    out: list[list[str]] = []
    for row, stamp in enumerate(stamps):
        lines = []
        for name, unit, values, status in columns:
            value, code = values[row], int(status[row])
            if np.isnan(value):
                if code == 0 or not layout.include_missing_with_status:
                    continue
                text = ""
            else:
                text = fmt.format(value)
            lines.append(sep.join((name, text, unit, stamp, STATUS_CODES[code])))
        out.append(lines)
    return out


def export_circular10(
    frame: pd.DataFrame,
    plant: Plant,
    start: datetime,
    end: datetime,
    out_dir: Path,
    layout: Circular10Layout,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the plant's readings in `[start, end)` as Circular 10 files into `out_dir`.

    Only the parameters configured for each station are written; a record with none of them
    gives no file. `progress(done, total)` is called after each station's files are written
    and every 1,000 files. Returns the paths written, in time order per station.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ReportsError("export times must be timezone-aware")
    if end <= start:
        raise ReportsError("export period ends before it starts")
    for column in ("time", "plant", "station"):
        if column not in frame.columns:
            raise ReportsError(f"readings frame lacks column {column!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    mask = (
        (frame["plant"] == plant.id)
        & frame["station"].isin(list(plant.stations))
        & (frame["time"] >= start)
        & (frame["time"] < end)
    )
    data = frame.loc[mask].sort_values(["station", "time"], kind="stable")
    total = len(data)
    done = 0
    written: list[Path] = []
    names: set[str] = set()
    ending = layout.line_ending
    for station, keys in plant.stations.items():
        rows = data.loc[data["station"] == station]
        if rows.empty:
            continue
        code = safe_part(layout.station_code(station))
        local = rows["time"].dt.tz_convert(plant.zone)
        stamps = local.dt.strftime(layout.time_format).tolist()
        lines = circular10_lines(local, rows, list(keys), layout)
        for stamp, record in zip(stamps, lines, strict=True):
            done += 1
            if record:
                name = check_name(layout.filename_pattern.format(
                    province=safe_part(layout.province), facility=safe_part(layout.facility),
                    station=code, time=stamp))
                if name in names:
                    raise ReportsError(f"two records map to the same file name {name!r}")
                names.add(name)
                path = out_dir / name
                try:
                    path.write_bytes((ending.join(record) + ending).encode(layout.encoding))
                except UnicodeEncodeError as exc:
                    raise ReportsError(f"{name}: text not encodable as {layout.encoding}") from exc
                written.append(path)
            if progress is not None and done % 1000 == 0:
                progress(done, total)
        if progress is not None:
            progress(done, total)
    return written
