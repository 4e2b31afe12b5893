"""Alert latency: publish of a breaching record → alert event on the MQTT alerts topic.

Run: `.venv/bin/python tests/benchmarks/bench_alert_latency.py [--breaches N] [--load F]`.
First measures the collector's ingest ceiling (single-record messages, as fast as possible),
then publishes background traffic at `--load` (default 0.5) of that ceiling over 100 plants,
with `--breaches` breaching records spread evenly through it, each for its own plant (a distinct
alert key). Alerts fire at once (`min_duration = {}`), mqtt channel only. Latency = receive time
of the `fired` event on `quantrac/v1/<cluster>/<plant>/alerts` − the publisher's clock just
before publishing (same host, same clock). Prints p50/p90/p99/max in ms as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import PublisherProcess, PublishPlan, bench_config, emit, short_id, wait_until

from collector.service import Collector
from quantrac.stack import LocalStack


class AlertClock:
    """Receive time of the first `fired` event per plant on the alerts topics."""

    def __init__(self, host: str, port: int, cluster: str) -> None:
        import paho.mqtt.client as mqtt

        self.fired: dict[str, float] = {}
        self.observed: dict[str, float] = {}  # the event's own time: when the rule fired
        ready = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"lat-{short_id()}",
                             protocol=mqtt.MQTTv5)
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: ready.set()
        client.on_connect = lambda c, *_a: c.subscribe(f"quantrac/v1/{cluster}/+/alerts", qos=1)
        client.connect(host, port)
        client.loop_start()
        ready.wait(10)
        self._client = client

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.time()
        event = json.loads(msg.payload)
        if event.get("event") == "fired" and event.get("parameter") == "cod":
            self.fired.setdefault(event["plant"], now)
            self.observed.setdefault(event["plant"], datetime.fromisoformat(event["time"])
                                     .timestamp())

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--breaches", type=int, default=1000)
    parser.add_argument("--load", type=float, default=0.5, help="fraction of the ceiling")
    parser.add_argument("--seconds", type=float, default=80.0,
                        help="length of the run (1,000 breaches in 80 s = 12.5 new alerts/s)")
    args = parser.parse_args()
    cluster = short_id()
    background = tuple(f"{cluster}-p{i}" for i in range(100))
    breach_plants = tuple(f"{cluster}-b{i}" for i in range(args.breaches))
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        db = short_id()
        stack.create_database(db)
        config = bench_config(stack.mqtt_url, stack.influx_url, db, Path(tmp) / "state",
                              background + breach_plants, cluster, f"col-{cluster}")
        collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                              config.checks, config.alerts, check_every=timedelta(hours=1))
        clock = AlertClock(stack.mqtt_host, stack.mqtt_port, cluster)
        collector.start()
        try:
            wait_until(lambda: collector.scheduler.runs >= 1, 300, 0.05)
            stats = collector.intake.stats
            # 1. the ceiling: as fast as possible, same collector, background plants only.
            n = 20000
            publisher = PublisherProcess(PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                                                     background, n))
            began = publisher.go()
            ceiling = n / (wait_until(lambda: stats.records_stored >= n, 300) - began)
            publisher.result()
            assert collector.wait_idle(60)
            # 2. background at `load` × ceiling with the breaches spread through it.
            rate = args.load * ceiling
            total = int(rate * args.seconds)
            step = total / args.breaches
            breaches = tuple(int(step * j + step / 2) for j in range(args.breaches))
            plan = PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster, background, total,
                               rate=rate, breaches=breaches, breach_plants=breach_plants)
            publisher = PublisherProcess(plan)
            began = publisher.go()
            done = stats.records_stored
            wait_until(lambda: stats.records_stored >= done + total, 300, 0.02)
            achieved = total / (time.time() - began)
            stamps = publisher.result()["stamps"]
            wait_until(lambda: len(clock.fired) >= args.breaches, 60, 0.05)
        finally:
            collector.stop()
            clock.close()
    latencies = [(clock.fired[breach_plants[j]] - stamps[index]) * 1000
                 for j, index in enumerate(breaches)]
    # Where the time goes: publish → alert decided (ingest + inline check) → event received
    # (alert outbox and MQTT delivery).
    decided = [(clock.observed[breach_plants[j]] - stamps[index]) * 1000
               for j, index in enumerate(breaches)]
    emit({
        "benchmark": "alert_latency",
        "breaches": args.breaches,
        "alerts_received": len(clock.fired),
        "ceiling_records_per_s": round(ceiling),
        "background_records_per_s": round(achieved),
        "load_fraction": round(achieved / ceiling, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "p50_to_decision_ms": round(statistics.median(decided), 1),
        "p99_to_decision_ms": round(percentile(decided, 0.99), 1),
    })


if __name__ == "__main__":
    main()
