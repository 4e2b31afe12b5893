"""Scheduled-check cost against stored history: it must grow with new data, not history.

Run: `.venv/bin/python tests/benchmarks/bench_checks.py [--plants N] [--days 1,7,30]`.
Writes 5-minute data for `--plants` plants straight through the store (history grows 1 → 7 → 30
days ending now), and at each size times, for every plant:
- `scheduled`: collector.schedule.CheckScheduler.check_plant in steady state (the watermark
  set by a check a minute earlier), as the frequent job runs it;
- `full_history` (the baseline, on a sample of plants): the same rules over the whole stored
  history, which is what a check without watermarks would cost.
Prints one JSON line: per size, the scheduled seconds for all plants and ms per plant, rows
read, and the baseline ms per plant.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import bench_config, emit, short_id

from collector.checkbook import CheckBook
from collector.influx1 import InfluxV1Store
from collector.schedule import CheckScheduler
from collector.settings import InfluxSettings
from quantrac.stack import LocalStack

STEP = timedelta(minutes=5)


def history_lines(plants: list[str], cluster: str, start: datetime, end: datetime) -> list[str]:
    """5-minute compliant readings (with a wiggle, so no sensor looks stuck) in [start, end)."""
    lines = []
    moment = start
    n = int(start.timestamp()) // 300
    while moment < end:
        ns = int(moment.timestamp()) * 1_000_000_000
        wiggle = (n % 11 - 5) / 100
        for plant in plants:
            lines.append(f"reading,cluster={cluster},plant={plant},station=outlet "
                         f"cod={50 + 10 * wiggle!r},flow_out={60 + 5 * wiggle!r},"
                         f"ph={7.2 + wiggle!r} {ns}")
        moment += STEP
        n += 1
    return lines


def write(store: InfluxV1Store, lines: list[str], chunk: int = 20000) -> None:
    for i in range(0, len(lines), chunk):
        store.write_lines(lines[i:i + chunk])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--days", default="1,7,30")
    parser.add_argument("--baseline-plants", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(d) for d in args.days.split(",")]
    cluster = short_id()
    plant_ids = [f"{cluster}-p{i}" for i in range(args.plants)]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    result: dict[str, Any] = {"benchmark": "checks", "plants": args.plants, "interval": "5m"}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        db = short_id()
        stack.create_database(db)
        config = bench_config(stack.mqtt_url, stack.influx_url, db, Path(tmp), plant_ids,
                              cluster, "unused")
        store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=db))
        plants = list(config.plants)
        rows_read = [0]

        def load(plant: Any, start: datetime, end: datetime) -> Any:
            frame = store.read_frame(plant.id, start, end)
            rows_read[0] += len(frame)
            return frame

        stored_days = 0
        for days in sizes:
            began = time.perf_counter()
            write(store, history_lines(plant_ids, cluster, now - timedelta(days=days),
                                       now - timedelta(days=stored_days)))
            write_s = time.perf_counter() - began
            stored_days = days
            book = CheckBook(Path(tmp) / f"book{days}")
            scheduler = CheckScheduler(plants, config.checks, book, load,
                                       lambda *_a, **_k: None)
            for plant in plants:  # steady state: watermarks set by earlier runs
                scheduler.check_plant(plant, now - timedelta(hours=2))
                scheduler.check_plant(plant, now - timedelta(minutes=1))
            rows_read[0] = 0
            began = time.perf_counter()
            for plant in plants:
                scheduler.check_plant(plant, now)
            scheduled_s = time.perf_counter() - began
            scheduled_rows = rows_read[0]
            rows_read[0] = 0
            sample = plants[:args.baseline_plants]
            began = time.perf_counter()
            for plant in sample:
                scheduler.check_window(plant, now - timedelta(days=days), now, now)
            full_s = time.perf_counter() - began
            book.close()
            result[f"{days}d"] = {
                "points_stored": len(plant_ids) * days * 288,
                "write_s": round(write_s, 1),
                "scheduled_s_all_plants": round(scheduled_s, 3),
                "scheduled_ms_per_plant": round(scheduled_s / len(plants) * 1000, 2),
                "scheduled_rows_per_plant": round(scheduled_rows / len(plants)),
                "full_history_ms_per_plant": round(full_s / len(sample) * 1000, 1),
                "full_history_rows_per_plant": round(rows_read[0] / len(sample)),
            }
        store.close()
    first, last = (result[f"{d}d"] for d in (sizes[0], sizes[-1]))
    result["scheduled_growth"] = round(last["scheduled_ms_per_plant"]
                                       / first["scheduled_ms_per_plant"], 2)
    result["full_history_growth"] = round(last["full_history_ms_per_plant"]
                                          / first["full_history_ms_per_plant"], 2)
    emit(result)


if __name__ == "__main__":
    main()
