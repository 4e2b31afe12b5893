"""Spool replay after an InfluxDB outage, with live ingest running throughout.

Run: `.venv/bin/python tests/benchmarks/bench_replay.py [--outage S] [--rate R]`.
A publisher process sends single-record messages at `--rate` records/s (default 1,000) over 100
plants. After a warm-up influxd is stopped for `--outage` seconds (default 120: the 10-minute
outage of the target scaled down five-fold), then restarted on the same port and data. While the
spool drains, the live stream keeps arriving. Reported: points spooled, drain time, replay rate
and its ratio to the live rate (target >= 5), the longest pause in live acknowledgements, and
a final check that InfluxDB holds every published record. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import (
    PublisherProcess,
    PublishPlan,
    bench_config,
    drop_session,
    emit,
    short_id,
    wait_until,
)

from collector.service import Collector
from quantrac.stack import LocalStack


class LiveWatch:
    """Samples the collector's durable count (stored + spooled): the longest time it stood
    still while messages were arriving is the stall live ingest suffered."""

    def __init__(self, collector: Collector) -> None:
        self._stats = collector.intake.stats
        self.max_gap_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _durable(self) -> int:
        return self._stats.records_stored - self._stats.records_replayed \
            + self._stats.records_spooled

    def _run(self) -> None:
        last, since = self._durable(), time.monotonic()
        while not self._stop.wait(0.02):
            now, value = time.monotonic(), self._durable()
            if value != last:
                self.max_gap_s = max(self.max_gap_s, now - since)
                last, since = value, now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def main() -> None:
    logging.getLogger("quantrac").setLevel(logging.CRITICAL)  # the outage is on purpose
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outage", type=float, default=120.0, help="seconds without influxd")
    parser.add_argument("--rate", type=float, default=1000.0, help="live records/s")
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    cluster = short_id()
    plants = tuple(f"{cluster}-p{i}" for i in range(100))
    duration = args.warmup + args.outage + max(30.0, args.outage / 2)
    total = int(args.rate * duration)
    result: dict[str, Any] = {"benchmark": "replay", "outage_s": args.outage,
                              "live_records_per_s": args.rate}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        db = short_id()
        stack.create_database(db)
        client_id = f"col-{cluster}"
        config = bench_config(stack.mqtt_url, stack.influx_url, db, Path(tmp) / "state",
                              plants, cluster, client_id)
        collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                              config.checks, config.alerts, check_every=timedelta(hours=1))
        collector.start()
        stats = collector.intake.stats
        try:
            wait_until(lambda: collector.scheduler.runs >= 1, 120, 0.05)
            publisher = PublisherProcess(PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                                                     plants, total, rate=args.rate))
            publisher.go()
            watch = LiveWatch(collector)
            time.sleep(args.warmup)
            stack.stop_server("influxd")
            time.sleep(args.outage)
            spooled = collector.spool.depth
            replayed_before = stats.records_replayed
            stack.start_influxd()
            back = time.time()
            drained = wait_until(lambda: collector.spool.depth == 0, 600, 0.02)
            drain_s = drained - back
            replayed = stats.records_replayed - replayed_before
            publisher.result(timeout=duration + 120)
            wait_until(lambda: stats.records_stored >= total, 120, 0.05)
            watch.stop()
            assert collector.wait_idle(60)
            stored = collector.store.count()
        finally:
            collector.stop()
            drop_session(stack.mqtt_host, stack.mqtt_port, client_id)
    result.update({
        "points_spooled_at_restart": spooled,
        "drain_s": round(drain_s, 2),
        "replayed_points": replayed,
        "replay_records_per_s": round(replayed / drain_s),
        "replay_to_live_ratio": round(replayed / drain_s / args.rate, 1),
        "max_live_ack_gap_s": round(watch.max_gap_s, 2),
        "published": total,
        "stored": stored,
        "replay_lag_max_s": round(stats.replay_lag_max_s, 1),
    })
    emit(result)


if __name__ == "__main__":
    main()
