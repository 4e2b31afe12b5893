"""The results the check book keeps for the console: hour results and volumes written by the
scheduled checks, their day and month tallies, treatment rows summed from hour volumes (equal
to the check's own), re-judged windows replacing rows, serious counts re-done when the chronic
factors change, and the last-values cache (a newer value wins)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from collector.checkbook import CheckBook
from collector.schedule import CheckScheduler
from rules.evaluate import evaluate
from rules.permit import Plant
from rules.settings import CheckSettings, ChronicRule
from rules.summary import LatestValue

PLANT = Plant(id="kb", cluster="kb", name="KB", design_flow_m3_day=1500, kq=0.9,
              stations={"inlet": ["flow_in"], "outlet": ["flow_out", "cod"]})
DAY0 = datetime(2026, 10, 4, 17, 0, tzinfo=UTC)  # 2026-10-05 00:00 in Hanoi


def two_days() -> pd.DataFrame:
    times = pd.date_range(DAY0, periods=2 * 288, freq="5min", tz=UTC)
    cod = np.full(len(times), 60.0)
    cod[24:48] = 170.0  # 02:00-04:00 on day one: 1.26 x the limit of 135
    status = np.zeros(len(times), dtype=np.int64)
    status[300:303] = 1  # three calibration readings on day two
    outlet = pd.DataFrame({"time": times, "plant": "kb", "station": "outlet",
                           "flow_out": 60.0, "flow_out_status": 0, "cod": cod,
                           "cod_status": status})
    inlet = pd.DataFrame({"time": times, "plant": "kb", "station": "inlet", "flow_in": 62.0,
                          "flow_in_status": 0})
    return pd.concat([inlet, outlet], ignore_index=True).sort_values("time", kind="stable")


def checked(tmp_path, settings: CheckSettings | None = None) -> tuple[CheckBook, pd.DataFrame]:
    frame = two_days()
    book = CheckBook(tmp_path)
    sched = CheckScheduler([PLANT], settings or CheckSettings(), book,
                           load=lambda _p, s, e: frame[(frame["time"] >= s)
                                                       & (frame["time"] < e)],
                           sink=lambda *args: None)
    end = DAY0 + timedelta(days=2)
    sched.check_window(PLANT, DAY0, DAY0 + timedelta(days=1), end, job="daily")
    sched.check_window(PLANT, DAY0 + timedelta(days=1), end, end, job="daily")
    return book, frame


def test_day_and_month_tallies(tmp_path) -> None:
    book, _ = checked(tmp_path)
    days = {(t.period, t.parameter): t for t in book.day_tallies(
        "kb", date(2026, 10, 5), date(2026, 10, 6)) if t.station == "outlet"}
    one, two = days[("2026-10-05", "cod")], days[("2026-10-06", "cod")]
    assert (one.judged, one.over, one.serious, one.worst) == (
        24, 2, 2, pytest.approx(170 / 135))
    assert (one.expected, one.valid, one.excluded) == (288, 288, 0)
    assert (two.judged, two.over, two.valid, two.excluded) == (24, 0, 285, 3)
    assert days[("2026-10-05", "flow_out")].judged == 0  # no limit on flows
    (month,) = [t for t in book.tallies(["kb"], "2026-10", "2026-10") if t.parameter == "cod"]
    assert (month.period, month.judged, month.over, month.valid, month.excluded) == (
        "2026-10", 48, 2, 573, 3)
    assert book.tallies(["other"], "2026-10", "2026-10") == []


def test_treatment_rows_equal_the_checks_own(tmp_path) -> None:
    book, frame = checked(tmp_path)
    rows = book.day_treatment("kb", DAY0, DAY0 + timedelta(days=2))
    end = DAY0 + timedelta(days=2)
    expected = [r for day in (DAY0, DAY0 + timedelta(days=1))  # as the daily job judged them
                for r in evaluate(frame, PLANT, CheckSettings(), day, day + timedelta(days=1),
                                  end).treatment if len(r.date) == 10]
    assert [r.date for r in rows] == [r.date for r in expected] == ["2026-10-05", "2026-10-06"]
    for got, want in zip(rows, expected, strict=True):
        assert got.inflow_m3 == pytest.approx(want.inflow_m3)
        assert got.outflow_m3 == pytest.approx(want.outflow_m3)
        assert got.compliant_ratio == pytest.approx(want.compliant_ratio)
        assert got.treated_ratio == pytest.approx(want.treated_ratio)
    (month,) = book.month_treatment(["kb"], "2026-10")
    assert month.inflow_m3 == pytest.approx(sum(r.inflow_m3 for r in rows))


def test_a_window_judged_again_replaces_its_rows(tmp_path) -> None:
    book, frame = checked(tmp_path)
    before = book.hour_results("kb", DAY0, DAY0 + timedelta(days=2), parameter="cod")
    assert len(before) == 48 and before[2].over and before[2].mean == 170.0
    sched = CheckScheduler([PLANT], CheckSettings(), book, load=lambda *_: frame.iloc[0:0],
                           sink=lambda *args: None)
    sched.check_window(PLANT, DAY0, DAY0 + timedelta(hours=6), DAY0 + timedelta(days=2))
    after = book.hour_results("kb", DAY0, DAY0 + timedelta(days=1), parameter="cod")
    assert len(after) == 24 and [h.valid for h in after[:6]] == [0] * 6
    (one,) = [t for t in book.day_tallies("kb", date(2026, 10, 5), date(2026, 10, 5))
              if t.parameter == "cod"]
    assert (one.judged, one.over, one.valid) == (18, 0, 216)
    book.prune_hours("kb", DAY0 + timedelta(days=1))
    assert book.hour_results("kb", DAY0, DAY0 + timedelta(days=1)) == []
    assert book.day_tallies("kb", date(2026, 10, 5), date(2026, 10, 5))  # tallies stay


def test_new_chronic_factors_count_serious_windows_again(tmp_path) -> None:
    book, _ = checked(tmp_path)
    stricter = CheckSettings(chronic=ChronicRule(other_factor=1.3))
    CheckScheduler([PLANT], stricter, book, load=lambda *_: None, sink=lambda *a: None)
    (month,) = [t for t in book.tallies(None, "2026-10", "2026-10") if t.parameter == "cod"]
    assert (month.over, month.serious) == (2, 0)  # 1.26 < 1.3
    assert not book.adopt_serious_factors(
        stricter.chronic.model_dump_json(
            include={"conventional", "conventional_factor", "other_factor"}),
        stricter.chronic.factor)


def test_last_values_cache_keeps_the_newest(tmp_path) -> None:
    book = CheckBook(tmp_path)
    t0 = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
    book.keep_latest([LatestValue("kb", "outlet", "cod", 40.0, t0, 0, t0)])
    book.keep_latest([LatestValue("kb", "outlet", "cod", None, None, 2,
                                  t0 + timedelta(minutes=5))])  # device error, no new value
    (row,) = book.latest_values(["kb"])
    assert (row.value, row.at, row.status, row.seen) == (40.0, t0, 2,
                                                         t0 + timedelta(minutes=5))
    book.keep_latest([LatestValue("kb", "outlet", "cod", 30.0, t0 - timedelta(hours=1), 0,
                                  t0 - timedelta(hours=1))])  # a late backfill loses
    (row,) = CheckBook(tmp_path).latest_values()  # another process sees it
    assert (row.value, row.status) == (40.0, 2)
    assert book.latest_values(["other"]) == []


def test_last_values_are_kept_all_or_nothing(tmp_path) -> None:
    """One transaction per call (one synced commit, not one per row): a row that cannot be
    stored leaves the rows before it unwritten, and the book goes on working."""
    book = CheckBook(tmp_path)
    t0 = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
    book.keep_latest([LatestValue("kb", "outlet", "cod", 40.0, t0, 0, t0)])
    later = t0 + timedelta(minutes=5)
    bad = LatestValue("kb", "outlet", "tss", object(), later, 0, later)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - sqlite3's own error for an unbindable value
        book.keep_latest([LatestValue("kb", "outlet", "cod", 50.0, later, 0, later), bad])
    (row,) = CheckBook(tmp_path).latest_values()
    assert (row.parameter, row.value) == ("cod", 40.0)
    book.keep_latest([LatestValue("kb", "outlet", "cod", 50.0, later, 0, later)])
    (row,) = book.latest_values()
    assert row.value == 50.0
