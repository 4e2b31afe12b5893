"""Readings for the commands: one plant and period, from the offline CSV or the real InfluxDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.payload import Reading
from collector.store import InfluxV1Store
from quantrac.config import Config, ConfigError, parse_config
from quantrac.sources import csv_span, load_frame

T0 = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)


def make_config(influx_url: str = "http://127.0.0.1:9", database: str = "quantrac") -> Config:
    plant = {"cluster": "kb", "design_flow_m3_day": 1500, "kq": 0.9,
             "stations": {"outlet": ["cod"]}}
    return parse_config({
        "influx": {"url": influx_url, "database": database},
        "plants": [{**plant, "id": "kb", "name": "Kim Bai", "interval": "5m"},
                   {**plant, "id": "other", "name": "Other", "interval": "1m"}],
    })


def write_csv(path: Path) -> Path:
    """Six readings of `kb` five minutes apart, with one reading of `other` among them."""
    rows = [f"{(T0 + timedelta(minutes=5 * i)).isoformat()},kb,outlet,{40 + i}" for i in range(6)]
    rows.insert(2, f"{(T0 + timedelta(minutes=7)).isoformat()},other,outlet,99")
    path.write_text("time,plant,station,cod\n" + "\n".join(rows) + "\n")
    return path


def test_csv_readings_are_one_plants_and_the_period_is_half_open(tmp_path: Path) -> None:
    config = make_config()
    csv = str(write_csv(tmp_path / "readings.csv"))
    frame = load_frame(config, config.plant("kb"), T0 + timedelta(minutes=5),
                       T0 + timedelta(minutes=20), csv)
    assert list(frame["plant"].unique()) == ["kb"]
    assert list(frame["cod"]) == [41.0, 42.0, 43.0]  # 00:20 is the end: left out
    assert list(frame.index) == [0, 1, 2]


def test_csv_span_runs_one_shortest_interval_past_the_last_reading(tmp_path: Path) -> None:
    config = make_config()
    csv = str(write_csv(tmp_path / "readings.csv"))
    assert csv_span(csv, [config.plant("kb")]) == (T0, T0 + timedelta(minutes=30))
    # With `other` (1 min) among the plants, the period ends one minute after the last reading.
    assert csv_span(csv, list(config.plants)) == (T0, T0 + timedelta(minutes=26))


def test_csv_without_rows_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("time,plant,station,cod\n")
    with pytest.raises(ConfigError, match=r"empty\.csv: no rows"):
        csv_span(str(empty), list(make_config().plants))


@pytest.mark.integration
def test_store_readings_match_the_csv_readings(tmp_path: Path, stack, influx_db) -> None:
    """Without --csv the same plant and period come from InfluxDB (the real influxd)."""
    config = make_config(stack.influx_url, influx_db)
    csv = str(write_csv(tmp_path / "readings.csv"))
    every = load_frame(config, config.plant("kb"), T0, T0 + timedelta(hours=1), csv)
    store = InfluxV1Store(config.influx)
    try:
        store.write([Reading("kb", row.plant, row.station, row.time.to_pydatetime(),
                             {"cod": row.cod}) for row in every.itertuples()])
        store.write([Reading("kb", "other", "outlet", T0 + timedelta(minutes=7), {"cod": 99.0})])
    finally:
        store.close()
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)
    stored = load_frame(config, config.plant("kb"), start, end, None)
    offline = load_frame(config, config.plant("kb"), start, end, csv)
    assert list(stored["time"]) == list(offline["time"])
    assert list(stored["cod"]) == list(offline["cod"]) == [41.0, 42.0, 43.0]
    assert set(stored["plant"]) == {"kb"}
