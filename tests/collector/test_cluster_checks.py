"""Scheduled cluster checks: the daily and monthly jobs keep each cluster's ledger rows and
collection findings in the check book; late data of a factory judges its cluster's day again."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collector.checkbook import CheckBook
from collector.partition import Partition
from collector.schedule import CheckScheduler
from rules.cluster import ClusterLayout
from rules.findings import Finding
from rules.settings import CheckSettings
from tests.rules.test_collection import layout, rows

DAY0 = datetime(2026, 10, 4, 17, tzinfo=UTC)  # 2026-10-05 00:00 in Hanoi
N = 288


def frames(days: int, inflow: Any = 17.0, f1: Any = 10.0, start: datetime = DAY0,
           ) -> pd.DataFrame:
    """Kim Bai-like cluster data: f1 + f2 + d1 (48 m³/day) = 17 m³/h reach the plant."""
    n = days * N
    return pd.concat([
        rows("kb", "inlet", {"flow_in": inflow}, n, start),
        rows("kb", "outlet", {"flow_out": 17.0, "cod": 60.0}, n, start),
        rows("f1", "connection", {"flow_out": f1, "cod": 90.0}, n, start),
        rows("f2", "connection", {"flow_out": 5.0, "cod": 90.0}, n, start),
    ]).sort_values("time", kind="stable").reset_index(drop=True)


class Bench:
    """A scheduler over one cluster, its data in a frame the test may change, a frozen clock."""

    def __init__(self, tmp_path: Any, data: pd.DataFrame, cluster: ClusterLayout | None = None):
        self.data = data
        self.now = DAY0 + timedelta(days=1, minutes=6)
        self.cluster = cluster or layout()
        self.filed: list[tuple[str, list[Finding], bool, str]] = []
        self.scheduler = CheckScheduler(
            list(self.cluster.plants), CheckSettings(), CheckBook(tmp_path), self.load,
            sink=lambda *args: None, clock=lambda: self.now, clusters=[self.cluster],
            cluster_sink=lambda plant, found, judged, _now, job: self.filed.append(
                (plant, list(found), judged, job)),
        )
        self.book = self.scheduler.book

    def load(self, plant: Any, start: datetime, end: datetime) -> pd.DataFrame:
        d = self.data
        return d[(d["plant"] == plant.id) & (d["time"] >= start) & (d["time"] < end)]


def test_the_daily_job_keeps_the_day_and_the_month_so_far(tmp_path):
    bench = Bench(tmp_path, frames(2, inflow=np.r_[np.full(N, 17.0), np.full(N, 12.0)]))
    bench.scheduler.run_daily_cluster(bench.cluster)
    day, = [r for r in bench.book.cluster_rows("kb", "2026-10-05", "2026-10-05")
            if len(r.date) == 10]
    assert day.target_met is True and day.collection_ratio == pytest.approx(1.0, abs=0.01)
    assert bench.filed == [("kb", [], True, "daily")]  # judged: clears an open alert
    bench.now += timedelta(days=1)
    bench.scheduler.run_daily_cluster(bench.cluster)
    month, first, second = bench.book.cluster_rows("kb", "2026-10-01", "2026-10-31")
    assert (month.date, first.date, second.date) == ("2026-10", "2026-10-05", "2026-10-06")
    assert second.target_met is False and second.collection_ratio < 0.75
    # The month so far: both days added up, not judged (target_met None) until the month ends.
    assert month.target_met is None
    assert month.generated_m3 == pytest.approx(first.generated_m3 + second.generated_m3)
    assert month.collection_ratio == pytest.approx(
        (first.measured_collected_m3 + second.measured_collected_m3)
        / (first.measured_generated_m3 + second.measured_generated_m3))
    plant, found, judged, job = bench.filed[-1]
    assert (plant, judged, job) == ("kb", True, "daily")
    (shortfall,) = found
    assert (shortfall.kind, shortfall.basis) == ("collection_shortfall", "day")
    # The finding is in the book with its explanation, for reports and the console.
    (stored,) = bench.book.stored_findings("kb", DAY0, DAY0 + timedelta(days=3))
    assert stored.explanation == shortfall.explanation and stored.note == shortfall.note
    assert stored.start == shortfall.start and stored.value == pytest.approx(shortfall.value)


def test_the_monthly_job_judges_the_whole_month_and_keeps_it(tmp_path):
    start = datetime(2026, 9, 30, 17, tzinfo=UTC)  # 2026-10-01 00:00 in Hanoi
    bench = Bench(tmp_path, frames(31, inflow=12.0, start=start))
    bench.now = start + timedelta(days=31, minutes=11)
    bench.scheduler.run_monthly_cluster(bench.cluster)
    stored = bench.book.cluster_rows("kb", "2026-10-01", "2026-10-31")
    assert [r.date for r in stored][:2] == ["2026-10", "2026-10-01"] and len(stored) == 32
    assert stored[0].target_met is False  # judged whole: a month's verdict
    assert bench.book.whole_months("kb") == {"2026-10"}
    assert [(f.basis, j) for _, found, j, job in bench.filed for f in found] == [("month", True)]
    # A later daily job (a coalesced run) adds a day but keeps the whole month's row.
    bench.scheduler.run_daily_cluster(bench.cluster)
    assert bench.book.cluster_rows("kb", "2026-10-01", "2026-10-31")[0].target_met is False


def test_late_factory_data_judges_its_clusters_day_again(tmp_path):
    # f1's meter was silent on day 1 (its data came late): the day's ratio left f1's hours out.
    silent = frames(1)
    silent = silent[~((silent["plant"] == "f1") & (silent["time"] < DAY0 + timedelta(hours=6)))]
    bench = Bench(tmp_path, silent)
    bench.scheduler.run_daily_cluster(bench.cluster)
    (before,) = [r for r in bench.book.cluster_rows("kb", "2026-10-05", "2026-10-05")
                 if len(r.date) == 10]
    # The late records arrive (here: f1 loses 60 % of its water, which the backfill reveals),
    # the inline monitor marks f1 late, the frequent job consumes the mark.
    full = frames(1, inflow=np.r_[np.full(72, 11.0), np.full(N - 72, 17.0)])
    bench.data = full
    bench.now += timedelta(minutes=30)
    f1 = next(p for p in bench.cluster.plants if p.id == "f1")
    bench.book.commit_window("f1", bench.now, bench.now, [], None, bench.now,
                             watermark=bench.now)
    bench.book.mark_late("f1", DAY0 + timedelta(minutes=5))
    bench.scheduler.check_plant(f1, bench.now)
    assert bench.book.take_cluster_late("kb") == DAY0 + timedelta(minutes=5)
    bench.scheduler.check_cluster_late(bench.cluster, bench.now)
    assert bench.book.take_cluster_late("kb") is None  # consumed
    (after,) = [r for r in bench.book.cluster_rows("kb", "2026-10-05", "2026-10-05")
                if len(r.date) == 10]
    assert after.generated_m3 > before.generated_m3 + 50
    assert after.target_met is False and before.target_met is True
    assert [f.basis for f in bench.filed[-1][1]] == ["day"]
    assert bench.filed[-1][3] == "daily"


def test_a_late_mark_within_today_only_goes(tmp_path):
    bench = Bench(tmp_path, frames(2))
    bench.book.mark_cluster_late("kb", bench.now - timedelta(minutes=2))
    bench.scheduler.check_cluster_late(bench.cluster, bench.now)
    assert bench.book.take_cluster_late("kb") is None
    assert bench.book.cluster_rows("kb", "2026-10-01", "2026-10-31") == []
    assert bench.filed == []


def test_a_late_mark_in_a_closed_month_judges_that_month_whole(tmp_path):
    start = datetime(2026, 9, 30, 17, tzinfo=UTC)
    bench = Bench(tmp_path, frames(32, start=start))
    bench.now = start + timedelta(days=31, hours=3)  # 2026-11-01 03:00
    bench.book.mark_cluster_late("kb", start + timedelta(days=30, hours=5))
    bench.scheduler.check_cluster_late(bench.cluster, bench.now)
    assert bench.book.whole_months("kb") == {"2026-10"}
    assert len(bench.book.cluster_rows("kb", "2026-10-01", "2026-10-31")) == 32
    assert bench.book.cluster_rows("kb", "2026-11-01", "2026-11-30") == []  # not closed yet


def test_plant_and_cluster_windows_keep_each_others_findings(tmp_path):
    book = CheckBook(tmp_path)
    now = DAY0 + timedelta(days=2)

    def finding(kind: str, station: str) -> Finding:
        return Finding("kb", station, "x", kind, "day", DAY0, DAY0 + timedelta(days=1), 0.5,
                       1.0, 0.5, "major")

    book.commit_cluster("kb", "kb", DAY0, DAY0 + timedelta(days=1), [],
                        [finding("collection_shortfall", "network")], now)
    book.commit_window("kb", DAY0, DAY0 + timedelta(days=1),
                       [finding("treatment_shortfall", "outlet")], None, now)
    kinds = {f.kind for f in book.stored_findings("kb", DAY0, now)}
    assert kinds == {"collection_shortfall", "treatment_shortfall"}
    book.commit_cluster("kb", "kb", DAY0, DAY0 + timedelta(days=1), [], [], now)
    assert [f.kind for f in book.stored_findings("kb", DAY0, now)] == ["treatment_shortfall"]
    book.commit_window("kb", DAY0, DAY0 + timedelta(days=1), [], None, now)
    assert book.stored_findings("kb", DAY0, now) == []


def test_a_book_of_an_older_version_opens_and_gains_the_new_columns(tmp_path):
    conn = sqlite3.connect(tmp_path / "checks.sqlite")
    conn.executescript("""
        CREATE TABLE finding (
            plant TEXT NOT NULL, station TEXT NOT NULL, parameter TEXT NOT NULL,
            kind TEXT NOT NULL, basis TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
            value REAL, lim REAL, ratio REAL, severity TEXT NOT NULL, evaluated_at TEXT NOT NULL,
            PRIMARY KEY (plant, station, parameter, kind, basis, start));
        INSERT INTO finding VALUES ('kb', 'outlet', 'cod', 'exceedance', 'hourly_mean',
            '2026-10-04T18:00:00+00:00', '2026-10-04T19:00:00+00:00', 150, 135, 1.11, 'minor',
            '2026-10-04T19:01:00+00:00');
    """)
    conn.close()
    (old,) = CheckBook(tmp_path).stored_findings("kb", DAY0, DAY0 + timedelta(days=1))
    assert (old.kind, old.note, old.explanation, old.value) == ("exceedance", "", None, 150.0)


def test_each_cluster_has_exactly_one_owner_its_central_plants():
    cluster = layout()
    for instances in (1, 2, 3, 5):
        owners = [i for i in range(instances) if Partition(i, instances).owns_cluster(cluster)]
        assert owners == [i for i in range(instances) if Partition(i, instances).owns("kb")]
    bare = layout(central=False, declared=(("d1", "connected", 10.0),), metered=[])
    assert sum(Partition(i, 4).owns_cluster(bare) for i in range(4)) == 1
