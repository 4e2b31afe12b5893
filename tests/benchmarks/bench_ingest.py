"""Ingest throughput: MQTT QoS 1 → durably in InfluxDB, against the transport ceiling.

Run: `.venv/bin/python tests/benchmarks/bench_ingest.py [--messages N] [--plants P]`.
For single-record messages and 100-record backfill arrays, one publisher process sends the same
payloads to three consumers in turn, on the same private broker and influxd:
- `bare`: a paho QoS 1 subscriber that only counts (the transport ceiling),
- `collector`: collector.service.Collector (batched writes, PUBACK after durability),
- `naive`: one InfluxDB write per message, PUBACK after each.
Rate = records / (publish start → last record counted / durably written). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import (
    BareCounter,
    NaiveConsumer,
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


def run_one(stack: LocalStack, kind: str, plants: int, messages: int, per: int,
            tmp: Path) -> dict[str, Any]:
    cluster = short_id()
    plant_ids = tuple(f"{cluster}-p{i}" for i in range(plants))
    topic = f"quantrac/v1/{cluster}/+/+/data"
    total = messages * per
    db = short_id()
    stack.create_database(db)
    publisher = PublisherProcess(PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                                             plant_ids, messages, per))
    collector = None
    consumer: Any = None
    try:
        if kind == "bare":
            consumer = BareCounter(stack.mqtt_host, stack.mqtt_port, topic, per)
            done = lambda: consumer.records >= total  # noqa: E731
        elif kind == "naive":
            consumer = NaiveConsumer(stack.mqtt_host, stack.mqtt_port, topic, stack.influx_url, db)
            done = lambda: consumer.records >= total  # noqa: E731
        else:
            client_id = f"col-{cluster}"
            config = bench_config(stack.mqtt_url, stack.influx_url, db, tmp / cluster,
                                  plant_ids, cluster, client_id)
            collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                                  config.checks, config.alerts,
                                  check_every=timedelta(hours=1))
            collector.start()
            wait_until(lambda: collector.scheduler.runs >= 1, 120, 0.05)
            stats = collector.intake.stats
            done = lambda: stats.records_stored >= total  # noqa: E731
        cpu = time.process_time()
        began = publisher.go()
        ended = wait_until(done, 600)
        cpu = time.process_time() - cpu
        published = publisher.result()
        alerts = Counter(f"{a.kind}/{a.state}" for a in collector.alerts.list_alerts()) \
            if collector else Counter()
    finally:
        publisher.kill()
        if consumer is not None:
            consumer.close()
        if collector is not None:
            collector.stop()
            drop_session(stack.mqtt_host, stack.mqtt_port, f"col-{cluster}")
    seconds = ended - began
    return {"records": total, "seconds": round(seconds, 3),
            "records_per_s": round(total / seconds),
            "cpu_us_per_record": round(cpu / total * 1e6, 1),
            "publish_records_per_s": round(total / published["seconds"]),
            **({"alerts": dict(alerts)} if alerts else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30000,
                        help="single-record messages (arrays: this / 10, naive: / 10)")
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds; rates are the median over rounds")
    parser.add_argument("--only", choices=("bare", "collector", "naive"), default=None)
    parser.add_argument("--shape", choices=("single", "array100"), default=None)
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "ingest", "plants": args.plants,
                              "rounds": args.rounds}
    kinds = [k for k in ("bare", "collector", "naive") if args.only in (None, k)]
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for shape, per, messages in (("single", 1, args.messages),
                                     ("array100", 100, max(10, args.messages // 10))):
            if args.shape and shape != args.shape:
                continue
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
            for _ in range(args.rounds):
                for kind in kinds:
                    n = messages if kind != "naive" else max(10, messages // 10)
                    runs[kind].append(run_one(stack, kind, args.plants, n, per, Path(tmp)))
            rows = {kind: summarize(items) for kind, items in runs.items()}
            result[shape] = rows
            if len(kinds) == 3:
                rate = {kind: rows[kind]["records_per_s"] for kind in kinds}
                rows["ratio_vs_ceiling"] = round(rate["collector"] / rate["bare"], 3)
                rows["ratio_vs_naive"] = round(rate["collector"] / rate["naive"], 2)
    emit(result)


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds, and every round's rate."""
    out = dict(items[0])
    for key in ("records_per_s", "cpu_us_per_record", "publish_records_per_s", "seconds"):
        out[key] = round(statistics.median(item[key] for item in items), 3)
    out["records_per_s"] = round(out["records_per_s"])
    out["each_records_per_s"] = [item["records_per_s"] for item in items]
    return out


if __name__ == "__main__":
    main()
