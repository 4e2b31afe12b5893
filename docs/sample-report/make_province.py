"""Regenerate the sample province roll-up and Kim Bai's cluster report for October 2026.

The sample province (deploy/etc/quantrac/province.toml) is simulated for the whole month
(seed 42): Kim Bai with a two-hour COD overload at its largest factory and a COD spike at its
central plant, cluster B without a central WWTP, cluster C whose declared tannery is not
connected. The collector's scheduled checks then run over the stored month as they would in
service — each day's job after midnight, the monthly job on the 1st — and keep the clusters'
rows in a check book; the roll-up reads that book, as `quantrac report --province` does.

    .venv/bin/python docs/sample-report/make_province.py [OUT_DIR]    # default docs/sample-report
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from collector.checkbook import CheckBook
from collector.partition import Partition
from collector.payload import parse_message
from collector.schedule import CheckScheduler
from collector.store import MemoryStore
from quantrac.config import load_config
from quantrac.rollup import Sources, cluster_report, province_report
from reports.output import write_cluster_report, write_province_report
from rules.permit import Plant
from simulator.run import SimulateOptions, generate

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"kim-bai": "factory-overload,cod-spike", "mau-b": "no-central-plant",
             "mau-c": "normal"}
SEED = 42
CLUSTER_REPORTS = ("kim-bai", "mau-c")


def main(out: Path) -> None:
    began = time.perf_counter()
    config = load_config(ROOT / "deploy/etc/quantrac/province.toml")
    layouts = config.layouts()
    zone = layouts[0].zone
    start = datetime(2026, 10, 1, tzinfo=zone)
    end = datetime(2026, 11, 1, tzinfo=zone)
    store = MemoryStore()
    for layout in layouts:
        options = SimulateOptions(cluster=layout.id, scenario=SCENARIOS[layout.id], start=start,
                                  duration=end - start, backfill=True, seed=SEED)
        store.write([r for m in generate(config.plants, options, clusters=layouts)
                     for r in parse_message(m.topic, m.payload)])
    frames = {p.id: store.read_frame(p.id, start, end) for p in config.plants}

    def load(plant: Plant, begin: datetime, until: datetime) -> pd.DataFrame:
        frame = frames[plant.id]
        return frame[(frame["time"] >= begin) & (frame["time"] < until)]

    with tempfile.TemporaryDirectory() as state:
        book = CheckBook(Path(state))
        clock = [start]
        scheduler = CheckScheduler(config.plants, config.checks, book, load,
                                   sink=lambda *_: None, clock=lambda: clock[0],
                                   clusters=layouts)
        for day in range(1, 32):  # the daily jobs of 2 Oct ... 1 Nov, then the monthly ones
            clock[0] = start + timedelta(days=day, minutes=6)
            for plant in config.plants:
                scheduler.run_daily(plant)
            for cluster in scheduler.clusters:
                scheduler.run_daily_cluster(cluster)
        clock[0] = end + timedelta(minutes=11)
        for plant in config.plants:
            scheduler.run_monthly(plant)
        for cluster in scheduler.clusters:
            scheduler.run_monthly_cluster(cluster)
        now = end + timedelta(hours=8)
        sources = Sources(store, book, Partition())
        written = []
        for lang in ("vi", "en"):
            report = province_report(config, "2026-10", sources, lang, now)
            written += write_province_report(report, ["html", "pdf"] if lang == "en"
                                             else ["html", "pdf", "csv"], out)
        book.close()
    for cluster in CLUSTER_REPORTS:
        (layout,) = [c for c in layouts if c.id == cluster]
        report = cluster_report(config, layout, start, end, load, "vi", now)
        written += write_cluster_report(report, ["html", "pdf"], out)
    for path in written:
        print(path)
    print(f"{len(written)} files in {time.perf_counter() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/sample-report")
