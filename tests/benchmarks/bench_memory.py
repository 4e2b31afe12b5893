"""Collector memory: RSS with 1,000 plants configured and ingesting (target < 250 MB).

Run: `.venv/bin/python tests/benchmarks/bench_memory.py [--plants N] [--messages M]`.
The collector runs in this process (the publisher is another process); RSS is read from
/proc/self/status. Reported: the interpreter with the collector's imports (the baseline),
after start with `--plants` plants, after each of two ingest rounds of `--messages`
single-record messages spread over all plants (growth between rounds would be a leak), the
peak (VmHWM), and the same after a 100-record-array round. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import PublisherProcess, PublishPlan, bench_config, emit, rss_mb, short_id, wait_until

from collector.service import Collector
from quantrac.stack import LocalStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plants", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "memory", "plants": args.plants}
    gc.collect()
    result["rss_mb_imports"] = round(rss_mb()[0], 1)
    cluster = short_id()
    plants = tuple(f"{cluster}-p{i}" for i in range(args.plants))
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        db = short_id()
        stack.create_database(db)
        config = bench_config(stack.mqtt_url, stack.influx_url, db, Path(tmp) / "state",
                              plants, cluster, f"col-{cluster}")
        collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                              config.checks, config.alerts, check_every=timedelta(hours=1))
        collector.start()
        stats = collector.intake.stats
        try:
            wait_until(lambda: collector.scheduler.runs >= 1, 300, 0.05)
            result["rss_mb_started"] = round(rss_mb()[0], 1)
            expected = 0
            rounds = (("round1", 1, args.messages), ("round2", 1, args.messages),
                      ("arrays", 100, args.plants))
            start = None
            for name, per, messages in rounds:
                plan = PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster, plants, messages,
                                   per_message=per, start=start)
                publisher = PublisherProcess(plan)
                publisher.go()
                expected += messages * per
                wait_until(lambda n=expected: stats.records_stored >= n, 600, 0.05)
                publisher.result()
                assert collector.wait_idle(120)
                gc.collect()
                result[f"rss_mb_after_{name}"] = round(rss_mb()[0], 1)
            result["rss_mb_peak"] = round(rss_mb()[1], 1)
            result["records"] = expected
        finally:
            collector.stop()
    result["target_mb"] = 250
    result["collector_mb_over_imports"] = round(
        result["rss_mb_peak"] - result["rss_mb_imports"], 1)
    emit(result)


if __name__ == "__main__":
    main()
