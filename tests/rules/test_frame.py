"""rules.frame: the one constructor of the readings frame (columns, dtypes, status columns,
the (time, plant, station) order) and its small helpers."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.errors import RulesError
from rules.frame import (
    SORT_ORDER,
    build_frame,
    empty_frame,
    is_status_column,
    ns_from_seconds,
    status_column,
    value_keys,
)

HANOI = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=HANOI)


def test_columns_dtypes_and_status_columns() -> None:
    frame = build_frame(
        [T0, T0 + timedelta(minutes=5)], ["kb", "kb"], ["outlet", "outlet"],
        {"ph": [7.0, None], "cod": np.array([50.0, 51.0])},
        {"cod": [1, None], "tss": [2, 0]},  # tss: a status without values
    )
    assert list(frame.columns) == ["time", "plant", "station", "cod", "ph", "tss",
                                   "cod_status", "ph_status", "tss_status"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].iloc[0] == pd.Timestamp(T0)
    for key in ("cod", "ph", "tss"):
        assert frame[key].dtype == "float64" and frame[status_column(key)].dtype == "int64"
    assert frame["plant"].dtype == pd.Series(["x"]).astype(str).dtype
    assert list(frame["cod_status"]) == [1, 0] and list(frame["ph_status"]) == [0, 0]
    assert math.isnan(frame["ph"].iloc[1]) and frame["tss"].isna().all()
    assert list(frame["tss_status"]) == [2, 0]


def test_a_value_that_is_not_a_number_becomes_nan_and_times_may_be_ns() -> None:
    ns = np.array([1_000, 2_000], dtype=np.int64)
    frame = build_frame(ns, ["kb", "kb"], ["outlet", "outlet"], {"cod": ["x", "4.5"]})
    assert math.isnan(frame["cod"].iloc[0]) and frame["cod"].iloc[1] == 4.5
    assert list(frame["time"].astype("int64")) == [1_000, 2_000]


def test_rows_in_time_plant_station_order_stable_for_equal_rows() -> None:
    t = [T0, T0, T0 - timedelta(minutes=5), T0, T0]
    frame = build_frame(t, ["kc", "kb", "kc", "kb", "kb"],
                        ["inlet", "outlet", "outlet", "inlet", "outlet"],
                        {"cod": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert list(frame["cod"]) == [3.0, 4.0, 2.0, 5.0, 1.0]
    assert list(frame.index) == list(range(5))


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(RulesError, match="column 'cod' has 1 rows, time has 2"):
        build_frame([T0, T0], ["kb", "kb"], ["outlet", "outlet"], {"cod": [1.0]})


def test_empty_frame() -> None:
    frame = empty_frame(["ph", "cod"])
    assert list(frame.columns) == ["time", "plant", "station", "cod", "ph",
                                   "cod_status", "ph_status"]
    assert len(frame) == 0 and str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["cod"].dtype == "float64" and frame["cod_status"].dtype == "int64"
    assert list(empty_frame().columns) == ["time", "plant", "station"]


def test_names_and_keys() -> None:
    assert status_column("nh4_n") == "nh4_n_status"
    assert is_status_column("nh4_n_status") and not is_status_column("nh4_n")
    assert value_keys(empty_frame(["ph", "cod"])) == ["cod", "ph"]


def test_ns_from_seconds_keeps_whole_microseconds() -> None:
    moment = datetime(2026, 11, 1, 3, 0, 0, 123457, tzinfo=HANOI)
    (ns,) = ns_from_seconds(np.array([moment.timestamp()]))
    assert ns == pd.Timestamp(moment).value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(("kb", "kc")),
                          st.sampled_from(("bypass", "inlet", "outlet"))), max_size=30))
def test_the_order_is_a_stable_sort_by_time_plant_station(
    rows: list[tuple[int, str, str]]
) -> None:
    frame = build_frame(np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows],
                        [r[2] for r in rows], {"n": np.arange(len(rows), dtype=np.float64)})
    expected = sorted(range(len(rows)), key=lambda i: rows[i])  # Python's sort is stable
    assert list(frame["n"]) == expected
    assert list(SORT_ORDER) == ["time", "plant", "station"]
