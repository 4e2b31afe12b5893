"""The province roll-up of one month from stored data, and how it grows with clusters.

Run: `.venv/bin/python tests/benchmarks/bench_province.py [--clusters 10,30,100]
[--factories 10] [--days 31]`. Writes October 2026 (5-minute data: a central plant with inlet
and outlet meters and COD/pH, each factory's connection meter and COD) for the largest number of
clusters into a private influxd, then at each size (the first N clusters):
- `monthly_jobs` (the baseline, and what the fallback pays): each cluster's ledger computed
  from its plants' readings in InfluxDB, as the monthly cluster job does
  (`CheckScheduler.run_monthly_cluster`: read every plant's month, `cluster_ledger`, keep the
  rows in the check book); split into `read_s` (InfluxDB) and the rest;
- `report`: `quantrac report --province` as it runs — the check book's stored rows and findings
  plus one count query for the reporting window — `report_s` to the model, `render_s` for
  HTML + PDF + CSV.
Prints one JSON line. The report uses the stored rows; computing is its fallback for a cluster
the book does not cover (`quantrac/rollup.py`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from common import emit, short_id

from collector.checkbook import CheckBook
from collector.influx1 import InfluxV1Store
from collector.partition import Partition
from collector.schedule import CheckScheduler
from collector.settings import InfluxSettings
from quantrac.config import parse_config
from quantrac.rollup import Sources, province_report
from quantrac.stack import LocalStack
from reports.output import write_province_report

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MONTH_START = datetime(2026, 10, 1, tzinfo=ZONE)
STEP = timedelta(minutes=5)
LIMITS = {"cod": 150, "ph": {"min": 5.5, "max": 9}}


def province_doc(clusters: int, factories: int, influx_url: str, db: str, state: Path
                 ) -> dict[str, Any]:
    """Clusters c000.. each with a central WWTP and `factories` metered members, two declared."""
    doc: dict[str, Any] = {"influx": {"url": influx_url, "database": db},
                           "state": {"dir": str(state)}, "clusters": [], "plants": []}
    for c in range(clusters):
        cid = f"c{c:03d}"
        doc["clusters"].append({
            "id": cid, "name": f"Cụm công nghiệp {c:03d}", "province": "Hà Nội",
            "central_plant": f"{cid}-wwtp",
            "factories": [{"id": f"{cid}-d{i}", "name": f"Declared {i}",
                           "connection": "connected", "declared_flow_m3_day": 20.0}
                          for i in range(2)]})
        doc["plants"].append({
            "id": f"{cid}-wwtp", "cluster": cid, "name": f"WWTP {c:03d}",
            "design_flow_m3_day": 1500, "kq": 0.9, "interval": "5m",
            "stations": {"inlet": ["flow_in"], "outlet": ["flow_out", "cod", "ph"]}})
        doc["plants"] += [{
            "id": f"{cid}-f{i}", "cluster": cid, "name": f"Factory {i}", "kind": "factory",
            "discharges_to": f"{cid}-wwtp", "design_flow_m3_day": 200, "interval": "5m",
            "stations": {"connection": ["flow_out", "cod", "ph"]}, "limits": LIMITS}
            for i in range(factories)]
    return doc


def cluster_lines(cid: str, factories: int, times: np.ndarray, seed: int) -> list[str]:
    """One cluster's month as line protocol: factories discharge ~8 m³/h each with a daily
    swing, the plant receives 97 % of it and of the declared 40 m³/day."""
    rng = np.random.default_rng(seed)
    hours = (times // 3_600_000_000_000) % 24
    swing = 1.0 + 0.3 * np.sin(hours / 24 * 2 * np.pi)
    lines: list[str] = []
    total = np.zeros(len(times))
    for i in range(factories):
        flow = 8.0 * swing * rng.uniform(0.9, 1.1, len(times))
        cod = rng.uniform(60, 110, len(times))
        ph = rng.uniform(6.8, 7.6, len(times))
        total += flow
        lines += [f"reading,cluster={cid},plant={cid}-f{i},station=connection "
                  f"flow_out={q:.3f},cod={c:.2f},ph={p:.3f} {t}"
                  for q, c, p, t in zip(flow, cod, ph, times, strict=True)]
    inflow = 0.97 * (total + 40.0 / 24)
    lines += [f"reading,cluster={cid},plant={cid}-wwtp,station=inlet flow_in={q:.3f} {t}"
              for q, t in zip(inflow, times, strict=True)]
    cod = rng.uniform(30, 90, len(times))
    lines += [f"reading,cluster={cid},plant={cid}-wwtp,station=outlet flow_out={q:.3f},"
              f"cod={c:.2f},ph=7.1 {t}" for q, c, t in zip(inflow, cod, times, strict=True)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", default="10,30,100")
    parser.add_argument("--factories", type=int, default=10)
    parser.add_argument("--days", type=int, default=31, help="days of data (of October)")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.clusters.split(","))
    largest = sizes[-1]
    start = MONTH_START
    times = np.arange(int(start.timestamp() * 1e9),
                      int((start + timedelta(days=args.days)).timestamp() * 1e9),
                      int(STEP.total_seconds() * 1e9), dtype=np.int64)
    now = datetime(2026, 11, 2, 8, tzinfo=ZONE)
    result: dict[str, Any] = {"benchmark": "province", "factories": args.factories,
                              "days_of_data": args.days, "interval": "5m", "sizes": {}}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        db = short_id()
        stack.create_database(db)
        store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=db))
        began = time.perf_counter()
        points = 0
        for c in range(largest):
            lines = cluster_lines(f"c{c:03d}", args.factories, times, seed=c)
            for i in range(0, len(lines), 50_000):
                store.write_lines(lines[i:i + 50_000])
            points += len(lines)
        result["points"] = points
        result["write_s"] = round(time.perf_counter() - began, 1)
        for size in sizes:
            state = Path(tmp) / f"state{size}"
            config = parse_config(province_doc(size, args.factories, stack.influx_url, db, state),
                                  source="bench")
            book = CheckBook(state)
            read = [0.0, 0]

            def load(plant: Any, s: datetime, e: datetime, read: list[Any] = read
                     ) -> pd.DataFrame:
                t0 = time.perf_counter()
                frame = store.read_frame(plant.id, s, e)
                read[0] += time.perf_counter() - t0
                read[1] += len(frame)
                return frame

            scheduler = CheckScheduler(config.plants, config.checks, book, load,
                                       sink=lambda *_: None, clock=lambda: now,
                                       clusters=config.layouts())
            t0 = time.perf_counter()
            for cluster in scheduler.clusters:
                scheduler.run_monthly_cluster(cluster)
            jobs = time.perf_counter() - t0
            sources = Sources(store, book, Partition())
            t0 = time.perf_counter()
            report = province_report(config, "2026-10", sources, "vi", now)
            report_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_province_report(report, ["html", "pdf", "csv"], Path(tmp) / f"out{size}")
            render_s = time.perf_counter() - t0
            if {c.source for c in report.clusters} != {"stored"}:
                raise RuntimeError("the report fell back to computing: the book is incomplete")
            book.close()
            result["sizes"][str(size)] = {
                "plants": len(config.plants),
                "monthly_jobs_s": round(jobs, 2), "read_s": round(read[0], 2),
                "rows_read": read[1], "report_s": round(report_s, 3),
                "render_s": round(render_s, 2),
                "report_vs_jobs": round(report_s / jobs, 4) if jobs else None,
            }
        store.close()
    first, last = result["sizes"][str(sizes[0])], result["sizes"][str(largest)]
    result["growth"] = {
        "clusters": round(largest / sizes[0], 1),
        "report": round(last["report_s"] / max(first["report_s"], 1e-6), 1),
        "monthly_jobs": round(last["monthly_jobs_s"] / max(first["monthly_jobs_s"], 1e-6), 1),
    }
    emit(result)


if __name__ == "__main__":
    main()
