"""Scheduled checks (APScheduler 3): windowed rules over stored data, with persisted watermarks.

- frequent job (default every minute): each plant is evaluated from its watermark (floored to
  the hour, so the running hour is re-evaluated) — or from the earliest late record ingested
  since, bounded by the lateness — to now. Cost grows with new data, not with history.
- daily job (00:05 plant-local): the previous plant-local day (daily means, treatment).
- monthly job (1st, 00:10 plant-local): the previous month.
- clusters (those with a ledger, owned by this instance): a daily job a minute after their
  plants' (00:06) judges the previous day's collection ledger and adds it to the month so far;
  a monthly job (1st, 00:11) judges the previous month whole. The ledger reads the readings of
  every plant of the cluster from the store. A record of a cluster's plant for a day already
  closed leaves a cluster late mark; the frequent job then judges the cluster's days again from
  that day (bounded by the lateness), the whole month when that month is closed.
Findings of a re-evaluated window replace the stored ones for that window: corrected, never
duplicated. Jobs coalesce missed runs and never overlap (max_instances=1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collector.checkbook import KEEP_HOURS, CheckBook, KeptResults
from collector.metrics import Histogram
from rules.cluster import ClusterLayout
from rules.collection import (
    ClusterLedger,
    cluster_ledger,
    finding_plant,
    month_to_date,
    reading_span,
)
from rules.evaluate import evaluate
from rules.findings import Finding
from rules.permit import Plant, parse_duration
from rules.results import CheckResult
from rules.settings import CheckSettings
from rules.summary import hourly_results
from rules.windows import local_midnight, month_span, next_month

log = logging.getLogger("quantrac.checks")

FrameLoader = Callable[[Plant, datetime, datetime], pd.DataFrame]
# (plant, result, start, end, now, job) with job "frequent", "daily" or "monthly".
ResultSink = Callable[[Plant, CheckResult, datetime, datetime, datetime, str], None]
# Called after the daily/monthly check of a closed period (the wiring writes its report).
PeriodHook = Callable[[Plant, str, datetime, datetime], object]
# A cluster's judged collection findings: (the plant they name, findings, whether the ledger
# judged the period at all — else nothing may clear —, now, job "daily" or "monthly").
ClusterSink = Callable[[str, Sequence[Finding], bool, datetime, str], None]


class CheckScheduler:
    """Runs windowed checks for every plant on APScheduler; results go to `sink`."""

    def __init__(
        self,
        plants: Sequence[Plant],
        settings: CheckSettings,
        book: CheckBook,
        load: FrameLoader,
        sink: ResultSink,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        every: timedelta = timedelta(minutes=1),
        on_period_closed: PeriodHook | None = None,
        clusters: Sequence[ClusterLayout] = (),
        cluster_sink: ClusterSink | None = None,
    ) -> None:
        self.plants = list(plants)
        self.clusters = [c for c in clusters if c.keeps_ledger]
        self._cluster_of = {p.id: c for c in self.clusters for p in c.plants}
        self._cluster_sink = cluster_sink
        self._on_period_closed = on_period_closed
        self.settings = settings
        self.book = book
        self._load = load
        self._sink = sink
        self._clock = clock
        self._every = every
        self.lateness = parse_duration(settings.lateness)
        self.runs = 0
        self.check_seconds = Histogram()
        # Serious windows (chronic rule) are counted as results are kept: with new factors,
        # the rows kept so far are counted again.
        book.adopt_serious_factors(
            settings.chronic.model_dump_json(
                include={"conventional", "conventional_factor", "other_factor"}),
            settings.chronic.factor)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        )

    def start(self) -> None:
        self._scheduler.add_job(
            self.run_frequent, IntervalTrigger(seconds=self._every.total_seconds()),
            id="frequent", next_run_time=self._clock(),
        )
        for plant in self.plants:
            self._scheduler.add_job(
                self.run_daily, CronTrigger(hour=0, minute=5, timezone=plant.zone),
                args=[plant], id=f"daily-{plant.id}",
            )
            self._scheduler.add_job(
                self.run_monthly, CronTrigger(day=1, hour=0, minute=10, timezone=plant.zone),
                args=[plant], id=f"monthly-{plant.id}",
            )
        for cluster in self.clusters:  # a minute after their plants' jobs
            self._scheduler.add_job(
                self.run_daily_cluster, CronTrigger(hour=0, minute=6, timezone=cluster.zone),
                args=[cluster], id=f"cluster-daily:{cluster.id}",
            )
            self._scheduler.add_job(
                self.run_monthly_cluster,
                CronTrigger(day=1, hour=0, minute=11, timezone=cluster.zone),
                args=[cluster], id=f"cluster-monthly:{cluster.id}",
            )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def run_frequent(self) -> None:
        """Evaluate each plant from its watermark (or its earliest late record) to now."""
        now = self._clock()
        for plant in self.plants:
            try:
                self.check_plant(plant, now)
            except Exception:
                log.exception("scheduled check failed for plant %s", plant.id)
        for cluster in self.clusters:
            try:
                self.check_cluster_late(cluster, now)
            except Exception:
                log.exception("scheduled check failed for cluster %s", cluster.id)
        self.runs += 1

    def window_start(self, plant: Plant, now: datetime) -> tuple[datetime, datetime | None]:
        """Where the next frequent evaluation of a plant begins, and the late mark it consumes.

        From the watermark (the start of the hour still running at the previous check, so it
        is judged again once complete) or from the earliest late record, never before
        now - lateness. A plant checked for the first time starts at the next whole hour: the
        hour in which the service started is incomplete by construction.
        """
        mark = self.book.watermark(plant.id)
        start = hour_ceil(now, plant) if mark is None else mark
        late = self.book.take_late(plant.id)
        if late is not None and late < start:
            start = late
        start = max(start, now - self.lateness)
        return hour_floor(start, plant), late

    def min_window(self, plant: Plant) -> timedelta:
        """Shortest span a frequent check looks at: an hour, or the stuck-sensor run."""
        return max(timedelta(hours=1), plant.interval_delta * (self.settings.stuck_readings + 1))

    def check_plant(self, plant: Plant, now: datetime) -> CheckResult:
        start, late = self.window_start(plant, now)
        cluster = self._cluster_of.get(plant.id)
        if late is not None and cluster is not None:
            # Its cluster's ledger of a closed day may change too (check_cluster_late).
            self.book.mark_cluster_late(cluster.id, late)
        if start >= now:  # first check: nothing complete to judge yet
            self.book.commit_window(plant.id, start, start, [], late, now, watermark=start)
            return CheckResult()
        began = time.perf_counter()
        result = self.check_window(plant, start, now, now, late, job="frequent",
                                   lookback=self.min_window(plant))
        self.check_seconds.observe(time.perf_counter() - began)
        return result

    def check_window(
        self, plant: Plant, start: datetime, end: datetime, now: datetime,
        late: datetime | None = None, job: str = "review",
        lookback: timedelta = timedelta(0),
    ) -> CheckResult:
        """Evaluate [start, end) and record its findings; only frequent runs move the
        watermark (to the start of the hour still running at `end`).

        `lookback`: history read before `start` so multi-reading rules (a stuck sensor) see
        enough readings; findings that ended before `start` were judged by earlier runs.
        """
        frame = self._load(plant, start - lookback, end)
        result = evaluate(frame, plant, self.settings, start - lookback, end, now)
        if lookback:
            result = CheckResult(
                findings=[f for f in result.findings if f.end > start],
                treatment=result.treatment, completeness=result.completeness,
            )
        watermark = hour_floor(end, plant) if job == "frequent" else None
        hours, volumes = hourly_results(frame, plant, self.settings, start, min(end, now))
        kept = KeptResults(plant.zone, hours, volumes)
        self.book.commit_window(plant.id, start, end, result.findings, late, now, watermark,
                                kept=kept)
        self._sink(plant, result, start, end, now, job)
        return result

    def run_daily(self, plant: Plant) -> None:
        now = self._clock()
        today = now.astimezone(plant.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        start = (today - timedelta(days=1)).astimezone(UTC)
        self.check_window(plant, start, today.astimezone(UTC), now, job="daily")
        self.book.prune_hours(plant.id, start - KEEP_HOURS)
        self._period_closed(plant, "day", start, today.astimezone(UTC))

    def run_monthly(self, plant: Plant) -> None:
        now = self._clock()
        first = now.astimezone(plant.zone).replace(day=1, hour=0, minute=0, second=0,
                                                   microsecond=0)
        previous = (first - timedelta(days=1)).replace(day=1)
        self.check_window(plant, previous.astimezone(UTC), first.astimezone(UTC), now,
                          job="monthly")
        self._period_closed(plant, "month", previous.astimezone(UTC), first.astimezone(UTC))

    def _period_closed(self, plant: Plant, period: str, start: datetime, end: datetime) -> None:
        if self._on_period_closed is None:
            return
        try:
            self._on_period_closed(plant, period, start, end)
        except Exception:  # a failed report must not stop the checks
            log.exception("scheduled %s report failed for plant %s", period, plant.id)


    # -- clusters ---------------------------------------------------------------------------

    def judge_cluster(
        self, cluster: ClusterLayout, start: datetime, end: datetime, now: datetime,
        late: datetime | None = None,
    ) -> ClusterLedger:
        """Judge the cluster's ledger over whole plant-local days [start, end) from every
        plant's stored readings and keep it: day rows, the month's row (whole when [start,
        end) is the whole month, else the month so far from its stored days) and the
        collection findings, replacing what the window held."""
        frames = {p.id: self._load(p, *reading_span(cluster, self.settings, start, end))
                  for p in cluster.plants}
        ledger = cluster_ledger(cluster, frames, self.settings, start, end, now)
        months = {label: month_span(label, cluster.zone) for label in
                  {row.date for row in ledger.rows if len(row.date) == 7}}
        whole = {label for label, bounds in months.items() if bounds == (start, end)}
        keep = [row for row in ledger.rows if len(row.date) == 10 or row.date in whole]
        self.book.commit_cluster(cluster.id, finding_plant(cluster), start, end, keep,
                                 ledger.findings, now, late)
        for label in sorted(set(months) - whole):
            after = months[label][1]
            last = (after.astimezone(cluster.zone) - timedelta(days=1)).date()
            days = [row for row in self.book.cluster_rows(cluster.id, f"{label}-01",
                                                           last.isoformat())
                    if len(row.date) == 10]
            self.book.merge_month_to_date(
                month_to_date(days, cluster.id, label, cluster.central is not None), now)
        return ledger

    def run_daily_cluster(self, cluster: ClusterLayout) -> None:
        """The previous plant-local day of the cluster's ledger, added to its month so far."""
        now = self._clock()
        today = local_midnight(now, cluster.zone)
        yesterday = local_midnight(today - timedelta(hours=12), cluster.zone)
        ledger = self.judge_cluster(cluster, yesterday, today, now)
        self._file_cluster(cluster, ledger, "day", now, "daily")

    def run_monthly_cluster(self, cluster: ClusterLayout) -> None:
        """The previous month of the cluster's ledger, judged whole."""
        now = self._clock()
        first = local_midnight(now, cluster.zone).replace(day=1)
        previous = local_midnight(first - timedelta(days=1), cluster.zone).replace(day=1)
        ledger = self.judge_cluster(cluster, previous.astimezone(UTC), first.astimezone(UTC),
                                    now)
        self._file_cluster(cluster, ledger, "month", now, "monthly")

    def check_cluster_late(self, cluster: ClusterLayout, now: datetime) -> None:
        """Judge the cluster's closed days again from its late mark (never before now -
        lateness) to today: a closed month whole, the running month's days and month so
        far. A mark within today only goes: today is judged by tomorrow's daily job."""
        late = self.book.take_cluster_late(cluster.id)
        if late is None:
            return
        zone = cluster.zone
        today = local_midnight(now, zone)
        day = local_midnight(max(late, now - self.lateness), zone)
        plant = finding_plant(cluster)
        if day >= today:
            self.book.commit_cluster(cluster.id, plant, today, today, [], [], now, late)
            return
        findings: list[Finding] = []
        judged = False
        month = day.replace(day=1)
        while month < today:
            after = next_month(month)
            closed = after <= today
            ledger = self.judge_cluster(cluster, month if closed else max(day, month),
                                        after if closed else today, now, late)
            findings += ledger.findings
            judged = judged or _judged(ledger, "day")
            month = after
        self._file_cluster(cluster, ClusterLedger([], findings), "day", now, "daily",
                           judged=judged)

    def _file_cluster(
        self, cluster: ClusterLayout, ledger: ClusterLedger, basis: str, now: datetime,
        job: str, judged: bool | None = None,
    ) -> None:
        if self._cluster_sink is None:
            return
        findings = [f for f in ledger.findings if f.basis == basis]
        self._cluster_sink(finding_plant(cluster), findings,
                           _judged(ledger, basis) if judged is None else judged, now, job)


def _judged(ledger: ClusterLedger, basis: str) -> bool:
    """Whether the ledger judged some period of `basis`: a ratio measured or a finding."""
    width = 10 if basis == "day" else 7
    return any(f.basis == basis for f in ledger.findings) or any(
        len(row.date) == width and row.collection_ratio is not None for row in ledger.rows)


def hour_floor(moment: datetime, plant: Plant) -> datetime:
    """Start of the plant-local hour containing `moment` (UTC)."""
    local = moment.astimezone(plant.zone).replace(minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def hour_ceil(moment: datetime, plant: Plant) -> datetime:
    """`moment` if on a whole plant-local hour, else the next one (UTC)."""
    floor = hour_floor(moment, plant)
    return floor if floor == moment else floor + timedelta(hours=1)
