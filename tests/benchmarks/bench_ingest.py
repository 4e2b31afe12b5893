"""Ingest throughput: MQTT QoS 1 → durably in InfluxDB, against the transport ceiling.

Run: `.venv/bin/python tests/benchmarks/bench_ingest.py [--messages N] [--plants P]`.
For single-record messages and 100-record backfill arrays, one publisher process sends the same
payloads to three consumers in turn, on the same private broker and influxd:
- `bare`: a paho QoS 1 subscriber that only counts (the transport ceiling),
- `collector`: collector.service.Collector (batched writes, PUBACK after durability),
- `naive`: one InfluxDB write per message, PUBACK after each;
and, without MQTT, `store`: the same records as pre-encoded line protocol posted straight to
influxd (batches of 5,000, 2 connections), the store's own ceiling.
Rate = records / (publish start → last record counted / durably written). Every run also records
the CPU seconds of each process sharing the machine (publisher, broker, influxd, consumer), and
`machine_bound` derives the fastest rate ANY consumer could reach here: the cores left once the
publisher, broker and influxd have had their measured CPU per record. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import (
    BareCounter,
    CpuMeter,
    NaiveConsumer,
    PublisherProcess,
    PublishPlan,
    bench_config,
    cpu_figures,
    drop_session,
    emit,
    run_store,
    server_pids,
    short_id,
    summarize,
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
        meter = CpuMeter({"publisher": publisher.pid, **server_pids(stack),
                          "consumer": os.getpid()})
        meter.start()
        began = publisher.go()
        ended = wait_until(done, 600)
        used = meter.stop()
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
            "cpu_us_per_record": round(used["consumer"] / total * 1e6, 1),
            "publish_records_per_s": round(total / published["seconds"]),
            **cpu_figures(used, total, seconds),
            **({"alerts": dict(alerts)} if alerts else {})}


def machine_bound(rows: dict[str, Any]) -> dict[str, Any]:
    """The fastest rate these records could be stored at on this machine, from the CPU each
    process was measured to need per record in this run (2 cores are all there is):
    - `any_consumer`: the cores minus what the publisher, the broker and influxd needed while
      the collector ran (a consumer costing nothing at all still leaves them that work);
    - `paho_json_consumer`: also minus the least a Python consumer must do: what the bare
      paho counter spent receiving and acknowledging, plus `json.loads` of the payloads (no
      validation, no line protocol, no checks)."""
    cores = os.cpu_count() or 1
    cost = rows["collector"]["process_cpu_us_per_record"]
    others = cost["publisher"] + cost["broker"] + cost["influxd"]
    floor = rows["bare"]["cpu_us_per_record"] + rows["store"]["json_decode_cpu_us_per_record"]
    any_consumer = cores / others * 1e6
    python_consumer = cores / (others + floor) * 1e6
    target = 0.7 * rows["bare"]["records_per_s"]
    return {"cores": cores, "others_cpu_us_per_record": round(others, 2),
            "least_consumer_cpu_us_per_record": round(floor, 2),
            "max_records_per_s_any_consumer": round(any_consumer),
            "max_records_per_s_paho_json_consumer": round(python_consumer),
            "target_records_per_s": round(target),
            "target_within_any_consumer_bound": any_consumer >= target,
            "target_within_paho_json_bound": python_consumer >= target,
            "collector_vs_paho_json_bound": round(rows["collector"]["records_per_s"]
                                                  / python_consumer, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30000,
                        help="single-record messages (arrays: this / 3, naive: / 10)")
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds; rates are the median over rounds")
    parser.add_argument("--only", choices=("bare", "collector", "naive", "store"), default=None)
    parser.add_argument("--shape", choices=("single", "array100"), default=None)
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "ingest", "plants": args.plants,
                              "rounds": args.rounds}
    kinds = [k for k in ("bare", "collector", "naive", "store") if args.only in (None, k)]
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for shape, per, messages in (("single", 1, args.messages),
                                     ("array100", 100, max(10, args.messages // 3))):
            if args.shape and shape != args.shape:
                continue
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
            for _ in range(args.rounds):
                for kind in kinds:
                    n = messages if kind != "naive" else max(10, messages // 10)
                    runs[kind].append(
                        run_store(stack, args.plants, n, per) if kind == "store"
                        else run_one(stack, kind, args.plants, n, per, Path(tmp)))
            rows: dict[str, Any] = {kind: summarize(items) for kind, items in runs.items()}
            result[shape] = rows
            if len(kinds) == 4:
                rate = {kind: rows[kind]["records_per_s"] for kind in kinds}
                rows["ratio_vs_ceiling"] = round(rate["collector"] / rate["bare"], 3)
                rows["ratio_vs_naive"] = round(rate["collector"] / rate["naive"], 2)
                rows["ratio_vs_store"] = round(rate["collector"] / rate["store"], 3)
                rows["machine_bound"] = machine_bound(rows)
    emit(result)


if __name__ == "__main__":
    main()
