"""Wiring of `quantrac report --cluster` and `--province`: the figures of each cluster, from
what the scheduled checks kept in the check book or computed from the stored readings, handed
to `reports` as typed inputs.

- `--cluster ID --month`: always computed from the readings of every plant of the cluster
  (store or `--csv`), like a plant's report, so its data hash covers the readings behind it.
- `--province --month`: the check book's cluster rows and findings (what the collector judged
  day by day; milliseconds per cluster); a cluster whose rows in this book do not cover the
  month (no collector ran all month, another instance owns it) is computed from the readings,
  and the report says which. Reporting is counted in the store over the reporting window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from collector.checkbook import FILENAME, CheckBook
from collector.partition import Partition
from collector.store import Store, open_store
from quantrac.config import Config, ConfigError
from quantrac.reporting import plant_report
from quantrac.sources import load_frame, month_bounds
from reports.cluster import ClusterReport, build_cluster_report
from reports.output import write_cluster_report, write_province_report
from reports.province import (
    ClusterStanding,
    Compliance,
    PlantReporting,
    ProvinceReport,
    build_province_report,
)
from rules.cluster import ClusterLayout
from rules.collection import cluster_ledger, finding_plant, month_to_date, reading_span
from rules.evaluate import evaluate
from rules.findings import Finding
from rules.permit import Plant
from rules.results import ClusterRow
from rules.windows import local_midnight

Loader = Callable[[Plant, datetime, datetime], pd.DataFrame]
Progress = Callable[[str], None]


def find_cluster(config: Config, cluster_id: str) -> ClusterLayout:
    """The cluster `cluster_id` of the config, with a collection ledger; ConfigError else."""
    layouts = config.layouts()
    layout = next((c for c in layouts if c.id == cluster_id), None)
    if layout is None:
        known = ", ".join(c.id for c in layouts) or "none"
        raise ConfigError(f"--cluster: unknown cluster {cluster_id!r} (clusters: {known})")
    if not layout.keeps_ledger:
        raise ConfigError(f"--cluster: cluster {cluster_id!r} has no [[clusters]] entry and no "
                          f"member factory; report its plant with --plant")
    return layout


# -- the cluster report --------------------------------------------------------------------


def cluster_report(
    config: Config, layout: ClusterLayout, start: datetime, end: datetime, load: Loader,
    lang: str, now: datetime,
) -> ClusterReport:
    """The cluster's report over [start, end), computed from its plants' readings."""
    span = reading_span(layout, config.checks, start, end)
    frames = {p.id: load(p, *span) for p in layout.plants}
    ledger = cluster_ledger(layout, frames, config.checks, start, end, now)
    plants = {p.id: plant_report(config, p, start, end, frames[p.id], lang, now)
              for p in layout.plants}
    return build_cluster_report(layout, ledger, plants, start, end, now, lang=lang,
                                generated_at=now,
                                tolerance=config.checks.collection_tolerance)


def write_cluster(
    config: Config, cluster_id: str, month: str, csv_path: str | None, formats: list[str],
    lang: str, out: Path,
) -> list[Path]:
    """`quantrac report --cluster`: build the cluster's month report and write its files."""
    layout = find_cluster(config, cluster_id)
    start, end = month_bounds(month, layout.zone)
    now = datetime.now(UTC)
    if start >= now:
        raise ConfigError(f"--month: {month} has not begun")
    report = cluster_report(config, layout, start, end,
                            lambda plant, s, e: load_frame(config, plant, s, e, csv_path),
                            lang, now)
    return write_cluster_report(report, formats, out)


# -- the province roll-up -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the roll-up reads: the store (readings, record counts) and the collector's
    check book (None: none in the state dir), and which plants this book's collector owns."""

    store: Store
    book: CheckBook | None
    partition: Partition


def province_report(
    config: Config, month: str, sources: Sources, lang: str, now: datetime,
    progress: Progress | None = None,
) -> ProvinceReport:
    """The roll-up of every cluster of the config over `month`."""
    layouts = config.layouts()
    if not layouts:
        raise ConfigError("the config has no [[plants]] or [[clusters]]")
    start, end = month_bounds(month, layouts[0].zone)
    if start >= now:
        raise ConfigError(f"--month: {month} has not begun")
    settings = config.reports.province
    reference = min(end, now) if settings.reporting_reference == "period_end" else now
    window = (reference - settings.window, reference)
    monitored = [p for c in layouts for p in c.plants]
    counts = sources.store.record_counts([p.id for p in monitored], *window)
    standings = []
    for index, layout in enumerate(layouts):
        standing = _standing(config, layout, month, sources, now, counts, window)
        if standing.source == "computed" and progress is not None:
            progress(f"cluster {layout.id}: computed from the readings "
                     f"({index + 1}/{len(layouts)})")
        standings.append(standing)
    return build_province_report(
        standings, start, end, lang=lang, generated_at=now, reporting_window=window,
        reporting_min_fraction=settings.reporting_min_fraction,
        tolerance=config.checks.collection_tolerance,
    )


def write_province(
    config: Config, month: str, formats: list[str], lang: str, out: Path,
    progress: Progress | None = None,
) -> list[Path]:
    """`quantrac report --province`: the roll-up from the configured store and state dir."""
    store = open_store(config.influx)
    book = CheckBook(config.state.dir) if (config.state.dir / FILENAME).exists() else None
    try:
        sources = Sources(store, book,
                          Partition(config.service.instance, config.service.instances))
        report = province_report(config, month, sources, lang, datetime.now(UTC), progress)
    finally:
        store.close()
        if book is not None:
            book.close()
    return write_province_report(report, formats, out)


def _standing(
    config: Config, layout: ClusterLayout, month: str, sources: Sources, now: datetime,
    counts: dict[tuple[str, str], int], window: tuple[datetime, datetime],
) -> ClusterStanding:
    start, end = month_bounds(month, layout.zone)
    reporting = tuple(_reporting(p, counts, window,
                                 config.reports.province.reporting_min_fraction)
                      for p in layout.plants)
    stored = _stored(layout, month, start, end, now, sources) if layout.keeps_ledger else None
    frames: dict[str, pd.DataFrame] = {}

    span = reading_span(layout, config.checks, start, end)

    def frame(plant: Plant) -> pd.DataFrame:
        if plant.id not in frames:
            frames[plant.id] = sources.store.read_frame(plant.id, *span)
        return frames[plant.id]

    computed = stored is None and layout.keeps_ledger
    if stored is not None:
        month_row, days, whole, collection = stored
    elif computed:
        ledger = cluster_ledger(layout, {p.id: frame(p) for p in layout.plants}, config.checks,
                                start, end, now)
        month_row = next((r for r in ledger.rows if len(r.date) == 7), None)
        days = tuple(r for r in ledger.rows if len(r.date) == 10)
        whole, collection = end <= now, tuple(ledger.findings)
    else:  # a plant alone in its cluster: no ledger
        month_row, days, whole, collection = None, (), False, ()
    findings: list[Finding] = []
    for plant in layout.plants:
        book = sources.book if _judged_here(plant, sources, stored is not None,
                                            min(end, now)) else None
        if book is not None:
            findings += book.stored_findings(plant.id, start, end)
        else:
            findings += evaluate(frame(plant), plant, config.checks, start, end,
                                 min(end, now)).findings
            computed = True
    return ClusterStanding(
        layout=layout, month=month_row, days=days, whole=whole, reporting=reporting,
        compliance=Compliance.of((f for f in findings if f.kind != "collection_shortfall"),
                                 monitored=bool(layout.plants)),
        collection_findings=tuple(f for f in collection if f.kind == "collection_shortfall"),
        source="computed" if computed else "stored",
    )


def _stored(
    layout: ClusterLayout, month: str, start: datetime, end: datetime, now: datetime,
    sources: Sources,
) -> tuple[ClusterRow | None, tuple[ClusterRow, ...], bool, tuple[Finding, ...]] | None:
    """The cluster's month from the check book, when it holds every closed day of the month
    (and the whole month's row once the month is over); None otherwise."""
    book = sources.book
    if book is None or not sources.partition.owns_cluster(layout):
        return None
    zone = layout.zone
    today = local_midnight(now, zone)
    closed = min(end, today)
    expected = (closed.date() - start.date()).days
    if expected <= 0:
        return None  # no closed day yet: the month so far comes from the readings
    last = (end - timedelta(days=1)).date().isoformat()
    rows = book.cluster_rows(layout.id, start.date().isoformat(), last)
    days = tuple(r for r in rows if len(r.date) == 10)
    if len(days) < expected:
        return None
    whole = end <= now
    if whole:
        if month not in book.whole_months(layout.id):
            return None
        month_row: ClusterRow | None = next(r for r in rows if r.date == month)
    else:
        month_row = month_to_date(days, layout.id, month, layout.central is not None)
    collection = tuple(f for f in book.stored_findings(finding_plant(layout), start, end)
                       if f.kind == "collection_shortfall")
    return month_row, days, whole, collection


def _judged_here(plant: Plant, sources: Sources, cluster_stored: bool, until: datetime) -> bool:
    """Whether this book holds the plant's findings of the month: its collector owns the
    plant and judged its cluster every day (or, for a plant alone in its cluster, has judged
    it up to `until`, give or take the hour still running)."""
    if sources.book is None or not sources.partition.owns(plant.id):
        return False
    if cluster_stored:
        return True
    mark = sources.book.watermark(plant.id)
    return mark is not None and mark >= until - timedelta(hours=2)


def _reporting(
    plant: Plant, counts: dict[tuple[str, str], int], window: tuple[datetime, datetime],
    min_fraction: float,
) -> PlantReporting:
    """The plant's least complete station in the window against what its interval expects."""
    expected = int((window[1] - window[0]) / plant.interval_delta)
    records = min((counts.get((plant.id, station), 0) for station in plant.stations), default=0)
    return PlantReporting(plant.id, records, expected, min_fraction)


__all__ = ["Sources", "cluster_report", "province_report", "write_cluster", "write_province"]
