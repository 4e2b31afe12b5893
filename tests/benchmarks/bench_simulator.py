"""Simulator throughput: records/s generated for `--plants 100 --backfill` (no broker).

Run: `.venv/bin/python tests/benchmarks/bench_simulator.py [--plants N] [--hours H]
[--mqtt-url mqtt://host:port]`. Prints one JSON line; with `--mqtt-url` it also publishes
through that broker (loopback only) and reports the achieved publish rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collector.settings import MqttSettings
from rules.permit import Plant
from simulator.run import SimulateOptions, generate, run_simulation

KIM_BAI = Plant(
    id="kim-bai",
    cluster="kim-bai",
    name="Kim Bai Industrial Cluster WWTP",
    design_flow_m3_day=1500,
    kq=0.9,
    stations={
        "inlet": ["flow_in"],
        "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"],
        "bypass": ["flow_bypass"],
    },
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--mqtt-url", default=None)
    args = parser.parse_args()
    options = SimulateOptions(
        scenario="normal",
        start=datetime.fromisoformat("2026-11-23T00:00:00+07:00"),
        duration=timedelta(hours=args.hours),
        backfill=True,
        seed=1,
        plants=args.plants,
    )
    began = time.perf_counter()
    messages = records = size = 0
    for message in generate([KIM_BAI], options):
        messages += 1
        records += message.records
        size += len(message.payload)
    seconds = time.perf_counter() - began
    result: dict[str, object] = {
        "benchmark": "simulator.generate",
        "plants": args.plants,
        "hours": args.hours,
        "messages": messages,
        "records": records,
        "bytes": size,
        "seconds": round(seconds, 3),
        "records_per_s": round(records / seconds),
    }
    if args.mqtt_url:
        summary = run_simulation([KIM_BAI], MqttSettings(url=args.mqtt_url), options)
        result["publish_seconds"] = round(summary.seconds, 3)
        result["publish_records_per_s"] = round(summary.rate)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
