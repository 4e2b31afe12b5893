"""Readings for the commands: one plant's readings frame for a period, from the offline CSV
(`--csv`) or from the store the collector writes (InfluxDB).

Its own module so that `commands` (flag handling), `reporting` and `demo` all load data the same
way without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from collector.store import open_store
from quantrac.config import Config, ConfigError
from quantrac.offline import read_csv
from rules.permit import Plant
from rules.windows import month_span


def load_frame(
    config: Config, plant: Plant, start: datetime, end: datetime, csv_path: str | None
) -> pd.DataFrame:
    """Readings of one plant in [start, end) from the CSV file or from InfluxDB."""
    if csv_path:
        frame = read_csv(Path(csv_path))
        mask = (frame["plant"] == plant.id) & (frame["time"] >= start) & (frame["time"] < end)
        return frame.loc[mask].reset_index(drop=True)
    store = open_store(config.influx)
    try:
        return store.read_frame(plant.id, start, end)
    finally:
        store.close()


def csv_span(csv_path: str, plants: Sequence[Plant]) -> tuple[datetime, datetime]:
    """The period a CSV file covers: its first reading to one interval past its last (the
    shortest interval of `plants`, so the last reading's slot is inside the period)."""
    frame = read_csv(Path(csv_path))
    if frame.empty:
        raise ConfigError(f"{csv_path}: no rows")
    interval = min(p.interval_delta for p in plants)
    return frame["time"].min().to_pydatetime(), (frame["time"].max() + interval).to_pydatetime()


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first, next first) of `YYYY-MM` in `zone`; ConfigError naming --month otherwise."""
    try:
        return month_span(month, zone)
    except ValueError as exc:
        raise ConfigError(f"--month: expected YYYY-MM, got {month!r}") from exc
