"""Scheduler windows: where each frequent check starts, and what it records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from collector.checkbook import CheckBook
from collector.schedule import CheckScheduler, hour_ceil, hour_floor
from rules.permit import Plant
from rules.settings import CheckSettings

PLANT = Plant(id="kb", cluster="kb", name="KB", design_flow_m3_day=1500, kq=0.9,
              stations={"outlet": ["cod"]})


def _frame(start: datetime, hours: int, cod: float) -> pd.DataFrame:
    times = pd.date_range(start, periods=12 * hours, freq="5min", tz=UTC)
    return pd.DataFrame({"time": times, "plant": "kb", "station": "outlet", "cod": cod,
                         "cod_status": 0})


def _scheduler(tmp_path, frame):
    calls = []
    sched = CheckScheduler(
        [PLANT], CheckSettings(), CheckBook(tmp_path),
        load=lambda _p, s, e: frame[(frame["time"] >= s) & (frame["time"] < e)],
        sink=lambda *args: calls.append(args),
    )
    return sched, calls


def test_hour_bounds_are_plant_local():
    moment = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)  # 10:30 in Hanoi
    assert hour_floor(moment, PLANT) == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert hour_ceil(moment, PLANT) == datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    assert hour_ceil(hour_floor(moment, PLANT), PLANT) == hour_floor(moment, PLANT)


def test_first_check_judges_nothing_then_each_hour_once_complete(tmp_path):
    t0 = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    sched, calls = _scheduler(tmp_path, _frame(t0 - timedelta(hours=1), 4, cod=500.0))
    assert sched.check_plant(PLANT, t0).findings == []
    assert calls == []  # the started hour is incomplete by construction
    assert sched.book.watermark("kb") == datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    result = sched.check_plant(PLANT, t0 + timedelta(hours=1, minutes=31))
    hourly = [(f.kind, f.start.hour, f.end.hour)
              for f in result.findings if f.basis == "hourly_mean"]
    # Judged from the watermark (11:00 local); the look-back shows the episode began at 10:00.
    assert hourly == [("exceedance", 10, 12)]
    assert calls[-1][5] == "frequent"
    # The running hour (12:00-) is judged again next time: the watermark stays on it.
    assert sched.book.watermark("kb") == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)


def test_late_mark_pulls_the_window_back_but_not_past_lateness(tmp_path):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    sched, _ = _scheduler(tmp_path, _frame(now - timedelta(hours=3), 3, cod=50.0))
    sched.book.commit_window("kb", now, now, [], None, now, watermark=now)
    sched.book.mark_late("kb", now - timedelta(hours=2, minutes=10))
    start, late = sched.window_start(PLANT, now)
    assert start == now - timedelta(hours=3)  # floored to the plant-local hour
    assert late == now - timedelta(hours=2, minutes=10)
    sched.book.mark_late("kb", now - timedelta(days=30))
    start, _ = sched.window_start(PLANT, now)
    assert start == now - timedelta(hours=48)


def test_late_marks_keep_the_earliest_and_are_stored_again_once_consumed(tmp_path):
    book = CheckBook(tmp_path)
    t0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    book.mark_late("kb", t0)
    book.mark_late("kb", t0 + timedelta(hours=1))  # later: already covered
    assert book.take_late("kb") == t0
    book.mark_late("kb", t0 - timedelta(hours=1))  # earlier: lowers the mark
    assert book.take_late("kb") == t0 - timedelta(hours=1)
    book.commit_window("kb", t0, t0, [], t0 - timedelta(hours=1), t0)  # consumed
    assert book.take_late("kb") is None
    book.mark_late("kb", t0 + timedelta(hours=2))  # stored again, not skipped
    assert book.take_late("kb") == t0 + timedelta(hours=2)
    assert CheckBook(tmp_path).take_late("kb") == t0 + timedelta(hours=2)  # persisted
