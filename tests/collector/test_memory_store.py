"""collector.store.MemoryStore, the in-memory Store for unit tests, and `frame_of` (readings →
readings frame): the frame it answers is the one the real sources give for the same readings
(offline CSV here; the real InfluxDB 1.x in the integration test at the end)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from collector.errors import StoreError
from collector.influx1 import InfluxV1Store
from collector.payload import Reading
from collector.settings import InfluxSettings
from collector.store import MemoryStore, Store, frame_of
from quantrac.offline import read_csv
from rules.frame import status_column

T0 = datetime(2026, 11, 1, 3, 0, 0, 123456, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))


def readings(plant: str = "kb") -> list[Reading]:
    """A small mixed batch: several stations, ties in time, statuses, absent values, an offset
    other than UTC, and rows out of order."""
    return [
        Reading("kb", plant, "outlet", T0 + timedelta(minutes=5), {"cod": 50.0, "ph": 7.0},
                {"cod": 1}),
        Reading("kb", plant, "inlet", T0, {"flow_in": 60.0}),
        Reading("kb", plant, "outlet", T0, {"cod": 0.1 + 0.2, "ph": 6.9}, {"ph": 2}),
        Reading("kb", plant, "bypass", (T0 + timedelta(minutes=5)).astimezone(HANOI),
                {"flow_bypass": 0.0}),
    ]


def test_frame_of_columns_dtypes_statuses_and_order() -> None:
    frame = frame_of(readings())
    assert list(frame.columns) == ["time", "plant", "station", "cod", "flow_bypass", "flow_in",
                                   "ph", "cod_status", "flow_bypass_status", "flow_in_status",
                                   "ph_status"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].iloc[0].to_pydatetime() == T0  # sorted, microseconds kept
    assert list(frame["station"]) == ["inlet", "outlet", "bypass", "outlet"]
    outlet = frame.iloc[3]
    assert outlet["cod"] == 50.0 and outlet["cod_status"] == 1 and outlet["ph_status"] == 0
    assert math.isnan(outlet["flow_in"]) and outlet["flow_in_status"] == 0
    assert frame.iloc[1]["ph_status"] == 2
    assert str(frame["cod_status"].dtype) == "int64"


def test_read_frame_half_open_window_one_plant() -> None:
    store: Store = MemoryStore([*readings(), *readings("kc")])
    frame = store.read_frame("kb", T0, T0 + timedelta(minutes=5))
    assert list(frame["station"]) == ["inlet", "outlet"] and set(frame["plant"]) == {"kb"}
    assert len(store.read_frame("kb", T0, T0 + timedelta(minutes=6))) == 4
    assert list(store.read_frame("zz", T0, T0 + timedelta(hours=1)).columns) == [
        "time", "plant", "station"]
    with pytest.raises(StoreError, match="timezone-aware"):
        store.read_frame("kb", T0.replace(tzinfo=None), T0 + timedelta(hours=1))


def test_a_point_written_again_overwrites_field_by_field_as_in_influxdb() -> None:
    store = MemoryStore(readings())
    store.write([Reading("kb", "kb", "outlet", T0.astimezone(HANOI), {"cod": 44.0})])
    assert store.count("kb") == 4 and store.count() == 4
    row = store.read_frame("kb", T0, T0 + timedelta(seconds=1)).iloc[1]
    # cod replaced; ph and its device-error status (not rewritten) stay, as InfluxDB keeps
    # fields a new point does not carry.
    assert (row["cod"], row["ph"], row["ph_status"]) == (44.0, 6.9, 2)
    store.write([Reading("other", "kb", "outlet", T0, {"cod": 1.0})])  # another series
    assert store.count("kb") == 5


def test_lines_ping_and_an_outage() -> None:
    store = MemoryStore()
    store.write_lines(["alert,plant=kb state=\"firing\" 1"])
    assert store.lines == ["alert,plant=kb state=\"firing\" 1"] and store.ping()
    store.up = False
    assert not store.ping()
    with pytest.raises(StoreError) as caught:
        store.write(readings())
    assert caught.value.retryable
    with pytest.raises(StoreError):
        store.read_frame("kb", T0, T0 + timedelta(hours=1))
    store.up = True
    store.close()
    assert store.count() == 0  # the failed write stored nothing


def write_csv(path: Path, batch: list[Reading]) -> None:
    keys = sorted({k for r in batch for k in r.values})
    lines = [",".join(["time", "plant", "station", *keys, *map(status_column, keys)])]
    for r in batch:
        cells = [r.ts.isoformat(), r.plant, r.station]
        cells += [repr(r.values[k]) if k in r.values else "" for k in keys]
        cells += [f"0{r.status.get(k, 0)}" for k in keys]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_offline_csv_gives_the_same_frame(tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    write_csv(path, list(reversed(readings())))
    expected = MemoryStore(readings()).read_frame("kb", T0, T0 + timedelta(hours=1))
    pd.testing.assert_frame_equal(read_csv(path), expected)


@pytest.mark.integration
def test_the_real_influxdb_v1_gives_the_same_frame(stack, influx_db: str) -> None:
    real = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=influx_db))
    try:
        real.ensure_database()
        real.write([*readings(), *readings("kc")])
        got = real.read_frame("kb", T0, T0 + timedelta(hours=1))
    finally:
        real.close()
    expected = MemoryStore([*readings(), *readings("kc")]).read_frame(
        "kb", T0, T0 + timedelta(hours=1))
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.integration
def test_the_real_influxdb_v1_counts_records_as_the_memory_store(stack, influx_db: str) -> None:
    batch = [*readings(), *readings("kc"), *readings("kd")]
    real = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=influx_db))
    window = (T0, T0 + timedelta(minutes=5))  # half open: the 03:05 records are out
    try:
        real.ensure_database()
        real.write(batch)
        got = real.record_counts(["kb", "kc", "zz"], *window)
    finally:
        real.close()
    assert got == MemoryStore(batch).record_counts(["kb", "kc", "zz"], *window)
    assert got == {("kb", "inlet"): 1, ("kb", "outlet"): 1, ("kc", "inlet"): 1,
                   ("kc", "outlet"): 1}
