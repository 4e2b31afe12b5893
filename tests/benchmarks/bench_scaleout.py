"""Scale-out throughput: 1 vs 2 `quantrac collect` processes on one `$share/` subscription.

Run: `.venv/bin/python tests/benchmarks/bench_scaleout.py [--messages N] [--plants P]`.
The same 100-record backfill arrays (the shape one process cannot keep up with) go from one
publisher process through the same private broker to N collector processes (N = 1, then 2,
interleaved over `--rounds`), each `quantrac collect --config` with `share_group` set and
`[service] instance/instances` partitioning the plants. Rate = records / (publish start →
the sum of every instance's `quantrac_records_stored_total` on /metrics reaching the total).
Also reports each instance's share and the CPU of every process (publisher, broker, influxd,
collectors). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from common import (
    CpuMeter,
    PublisherProcess,
    PublishPlan,
    drop_session,
    emit,
    plant_doc,
    short_id,
    wait_until,
)

from quantrac.stack import LocalStack, free_port

ROOT = Path(__file__).resolve().parents[2]


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_config(path: Path, stack: LocalStack, db: str, state: Path, cluster: str,
                 plants: tuple[str, ...], instance: int, instances: int, port: int) -> None:
    """The TOML a deployment would hand each instance (plants are the bench's plant_doc)."""
    lines = [
        "[mqtt]", f"url = {toml_value(stack.mqtt_url)}",
        f"client_id = {toml_value(f'col-{cluster}-{instance}')}",
        f"share_group = {toml_value(f'g{cluster}')}",
        "[influx]", f"url = {toml_value(stack.influx_url)}", f"database = {toml_value(db)}",
        "[state]", f"dir = {toml_value(str(state))}",
        "[service]", f"instance = {instance}", f"instances = {instances}", f"http_port = {port}",
        "[alerts]", "min_duration = {}",
        "[alerts.channels.mqtt]", 'type = "mqtt"',
    ]
    for plant_id in plants:
        doc = plant_doc(plant_id, cluster)
        stations = doc.pop("stations")
        lines.append("[[plants]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in doc.items()]
        lines.append("[plants.stations]")
        lines += [f"{key} = {toml_value(value)}" for key, value in stations.items()]
    path.write_text("\n".join(lines) + "\n")


def stored(port: int) -> int:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("quantrac_records_stored_total"):
            return int(float(line.split()[-1]))
    return 0


def ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def run_one(stack: LocalStack, instances: int, plants: int, messages: int, per: int,
            tmp: Path) -> dict[str, Any]:
    cluster = short_id()
    plant_ids = tuple(f"{cluster}-p{i}" for i in range(plants))
    total = messages * per
    db = short_id()
    stack.create_database(db)
    ports = [free_port() for _ in range(instances)]
    processes = []
    publisher = None
    try:
        for i, port in enumerate(ports):
            config = tmp / f"{cluster}-{i}.toml"
            write_config(config, stack, db, tmp / f"{cluster}-{i}", cluster, plant_ids, i,
                         instances, port)
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("quantrac")), "collect", "--config",
                 str(config)],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: all(ready(port) for port in ports), 120, 0.1)
        time.sleep(2.0)  # let the first scheduled check pass before timing
        publisher = PublisherProcess(PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                                                 plant_ids, messages, per))
        meter = CpuMeter({"publisher": publisher.pid,
                          "broker": stack.servers["mosquitto"].process.pid,
                          "influxd": stack.servers["influxd"].process.pid,
                          **{f"collector{i}": p.pid for i, p in enumerate(processes)}})
        meter.start()
        began = publisher.go()
        ended = wait_until(lambda: sum(stored(port) for port in ports) >= total, 600, 0.05)
        used = meter.stop()
        shares = [stored(port) for port in ports]
    finally:
        if publisher is not None:
            publisher.kill()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for i in range(instances):
            drop_session(stack.mqtt_host, stack.mqtt_port, f"col-{cluster}-{i}")
    seconds = ended - began
    return {"records": total, "stored": sum(shares), "seconds": round(seconds, 3),
            "records_per_s": round(total / seconds), "instance_shares": shares,
            "process_cpu_us_per_record": {name: round(cpu / total * 1e6, 2)
                                          for name, cpu in used.items()},
            "cores_busy": round(sum(used.values()) / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000, help="100-record messages")
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for instances in runs:
                runs[instances].append(run_one(stack, instances, args.plants, args.messages,
                                               100, Path(tmp)))
    rates = {n: statistics.median(r["records_per_s"] for r in items)
             for n, items in runs.items()}
    emit({"benchmark": "scaleout", "plants": args.plants, "rounds": args.rounds,
          "cores": os.cpu_count(),
          **{f"instances_{n}": {"records_per_s": round(rates[n]),
                                "each_round": items} for n, items in runs.items()},
          "speedup_2_over_1": round(rates[2] / rates[1], 2)})


if __name__ == "__main__":
    main()
