"""quantrac against the Node-RED flow a plant integrator would build, on the same broker,
influxd and payloads: rec/s, consumer CPU per record, stored vs published (issue 16).

Run: `.venv/bin/python tests/benchmarks/bench_peer.py [--messages N] [--publishers K]`.
Node-RED and node-red-contrib-influxdb are installed with npm into a temporary folder here
(never by `make test`); without node or npm, or if the install fails, the JSON line says why
and the peer is skipped. Consumers, for single-record messages and 100-record arrays:
- `bare`: a paho QoS 1 subscriber that only counts (the transport ceiling of phase 1: plain
  paho, MQTT 5, acknowledging on receipt),
- `bare_adapter`: the same ceiling in quantrac's own MQTT configuration: the collector's
  adapter (collector.mqtt: its paho client, MQTT 5 persistent session, manual acknowledgements,
  each batch acknowledged at once from a second thread), counting only,
- `quantrac`: collector.service.Collector, in this process as in bench_ingest.py (batched
  writes, PUBACK after the durable write, inline checks on every record),
- `nodered_message`: mqtt in (QoS 1) → json → function (SPEC points) → influxdb batch (v1),
  one write per message,
- `nodered_join`: the same with a join node batching 100 messages or 0.2 s before the write,
and `store`: the same records as ready line protocol posted straight to influxd (its own
ceiling). K publisher processes (own connections, disjoint plants) publish the messages,
by default as pre-encoded MQTT packets written in bulk to a socket (QoS 1, ≤ 1,000 unacknowledged),
so that publishing is not the limit; `publish_records_per_s` shows how fast they went (all
PUBACKs in), next to each consumer's rate.
Rate = records stored / (publish start → last record stored). quantrac's and the bare
counter's progress is read from their counters; Node-RED's from influxd's own count of points
written to the run's database (/debug/vars, polled every 50 ms); stored = `count(cod)` in
InfluxDB afterwards, for every consumer. CPU per record is the consumer process's CPU time
(/proc) ÷ records published; every process sharing the 2 cores is metered, and the whole
machine's busy cores and load average are recorded (other jobs share this machine).
Medians of `--rounds` interleaved rounds; one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from common import (
    AdapterCounter,
    BareCounter,
    CpuMeter,
    PublisherProcesses,
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
from quantrac.stack import LocalStack, free_port

NODE_RED_PACKAGES = ("node-red@4", "node-red-contrib-influxdb@0.7")
CONSUMERS = ("bare", "bare_adapter", "quantrac", "nodered_message", "nodered_join")
SHAPES = (("single", 1), ("array100", 100))

# The integrator's function node: SPEC points (measurement `reading`, tags from the topic, a
# float field per value, `<key>_status` for a status other than 00, time = the record's ts).
# node-red-contrib-influxdb (node-influx, no schema) writes every number without the `i`
# suffix, so `<key>_status` lands as a float field there: the peer cannot write SPEC's int.
POINTS_FUNCTION = """
const ids = msg.topic.split("/");
const tags = {cluster: ids[2], plant: ids[3], station: ids[4]};
const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
const points = [];
for (const record of records) {
    const fields = {};
    for (const key in record.values) { fields[key] = record.values[key]; }
    for (const key in (record.status || {})) {
        const code = Number(record.status[key]);
        if (code) { fields[key + "_status"] = code; }
    }
    const ts = typeof record.ts === "number" ? record.ts : Date.parse(record.ts);
    points.push({measurement: "reading", tags: tags, fields: fields, timestamp: ts});
}
msg.payload = points;
return msg;
"""
FLATTEN_FUNCTION = "msg.payload = msg.payload.flat();\nreturn msg;\n"


# -- the peer: install, flows, process ------------------------------------------------------

def install_node_red(npm: str, node: str, folder: Path, timeout: float) -> tuple[Path | None, str]:
    """npm-install Node-RED and the InfluxDB nodes into `folder`: (red.js, versions) or
    (None, why not)."""
    npm_path, node_path = shutil.which(npm), shutil.which(node)
    if node_path is None or npm_path is None:
        return None, f"{'node' if node_path is None else 'npm'} not found on PATH"
    red = folder / "node_modules" / "node-red" / "red.js"
    folder.mkdir(parents=True, exist_ok=True)
    if red.exists():
        return red, _versions(node_path, folder) + " (already installed there)"
    (folder / "package.json").write_text('{"name": "quantrac-bench-peer", "private": true}\n')
    try:
        done = subprocess.run(
            [npm_path, "install", "--no-audit", "--no-fund", "--loglevel=error",
             *NODE_RED_PACKAGES],
            cwd=folder, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"npm install did not finish in {timeout:.0f} s"
    if done.returncode != 0 or not red.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"npm install failed (exit {done.returncode}): {tail[0][:300]}"
    return red, _versions(node_path, folder)


def _versions(node_path: str, folder: Path) -> str:
    versions = {name: json.loads((folder / "node_modules" / name / "package.json")
                                 .read_text())["version"]
                for name in ("node-red", "node-red-contrib-influxdb")}
    node_version = subprocess.run([node_path, "--version"], capture_output=True, text=True,
                                  check=False).stdout.strip()
    return f"node {node_version}, " + ", ".join(f"{k} {v}" for k, v in versions.items())


def flows(kind: str, stack: LocalStack, cluster: str, db: str) -> list[dict[str, Any]]:
    """The flow an integrator would build: one write per message, or joined 100 / 0.2 s."""
    influx = urlsplit(stack.influx_url)
    tab = "peer"
    nodes: list[dict[str, Any]] = [
        {"id": tab, "type": "tab", "label": "quantrac peer"},
        {"id": "broker", "type": "mqtt-broker", "name": "bench", "broker": stack.mqtt_host,
         "port": str(stack.mqtt_port), "clientid": "", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True},
        {"id": "influx", "type": "influxdb", "name": "bench", "hostname": influx.hostname,
         "port": str(influx.port), "protocol": "http", "database": db, "usetls": False,
         "influxdbVersion": "1.x"},
        {"id": "in", "type": "mqtt in", "z": tab, "name": "stations",
         "topic": f"quantrac/v1/{cluster}/+/+/data", "qos": "1", "datatype": "utf8",
         "broker": "broker", "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "wires": [["json"]]},
        {"id": "json", "type": "json", "z": tab, "property": "payload", "action": "obj",
         "pretty": False, "wires": [["points"]]},
        {"id": "points", "type": "function", "z": tab, "name": "SPEC points",
         "func": POINTS_FUNCTION, "outputs": 1, "noerr": 0, "initialize": "", "finalize": "",
         "libs": [], "wires": [["join" if kind == "nodered_join" else "write"]]},
        {"id": "write", "type": "influxdb batch", "z": tab, "influxdb": "influx",
         "precision": "ms", "retentionPolicy": "", "name": "reading", "wires": []},
    ]
    if kind == "nodered_join":
        nodes += [
            {"id": "join", "type": "join", "z": tab, "mode": "custom", "build": "array",
             "property": "payload", "propertyType": "msg", "key": "topic", "joiner": "\\n",
             "joinerType": "str", "useparts": False, "accumulate": False, "timeout": "0.2",
             "count": "100", "reduce": False, "wires": [["flatten"]]},
            {"id": "flatten", "type": "function", "z": tab, "name": "flatten",
             "func": FLATTEN_FUNCTION, "outputs": 1, "noerr": 0, "initialize": "",
             "finalize": "", "libs": [], "wires": [["write"]]},
        ]
    for column, flow_node in enumerate(n for n in nodes if "z" in n):
        flow_node.update(x=120 + 180 * column, y=80)  # a position is what makes a flow node
    return nodes


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this benchmark dies (no orphan node)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def node_red(node: str, red: Path, user_dir: Path, nodes: list[dict[str, Any]]) -> Iterator[int]:
    """Node-RED headless with its own userDir and free port; yields its pid once the flow's
    MQTT node is connected; stopped (and waited for) on exit."""
    user_dir.mkdir(parents=True)
    (user_dir / "flows.json").write_text(json.dumps(nodes))
    settings = user_dir / "settings.js"
    settings.write_text(
        "module.exports = {\n"
        f"  uiHost: '127.0.0.1', uiPort: {free_port()}, flowFile: 'flows.json',\n"
        "  credentialSecret: false, disableEditor: true,\n"
        "  diagnostics: {enabled: false}, telemetry: {enabled: false},\n"
        "  logging: {console: {level: 'info', metrics: false, audit: false}},\n"
        "};\n")
    log_path = user_dir / "node-red.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [shutil.which(node) or node, str(red), "--userDir", str(user_dir), "--settings",
             str(settings)],
            cwd=user_dir, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    try:
        def connected() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"node-red exited: {log_path.read_text()[-1000:]}")
            return "Connected to broker" in log_path.read_text(errors="replace")

        wait_until(connected, 60, 0.1)
        time.sleep(0.5)  # SUBACK follows the connection
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# -- measuring ------------------------------------------------------------------------------

def points_written(influx_url: str, db: str) -> int:
    """influxd's own count of points written to `db` (all its shards), from /debug/vars."""
    stats = requests.get(f"{influx_url}/debug/vars", timeout=5).json()
    return sum(v["values"].get("writePointsOk", 0) for v in stats.values()
               if isinstance(v, dict) and v.get("name") == "shard"
               and (v.get("tags") or {}).get("database") == db)


def stored_count(influx_url: str, db: str) -> int:
    """Distinct points stored (every bench record has a `cod` value)."""
    response = requests.get(f"{influx_url}/query",
                            params={"db": db, "q": "SELECT count(cod) FROM reading"},
                            timeout=120)
    series = response.json()["results"][0].get("series") or [{"values": [[0, 0]]}]
    return int(series[0]["values"][0][1])


def wait_progress(read: Callable[[], int], total: int, began: float, settle: float,
                  published: Callable[[], bool], timeout: float = 600,
                  step: float = 0.05) -> tuple[int, float]:
    """Poll a progress counter until it reaches `total`, or, once everything is published,
    stops moving for `settle` seconds (a consumer that lost records never gets there):
    (last value, when it last moved)."""
    last, moved = 0, began
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        now = time.time()
        if value != last:
            last, moved = value, now
        if value >= total or (now - max(moved, began) > settle and published()):
            return last, moved
        time.sleep(step)
    return last, moved


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have been busy (/proc/stat, not idle/iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def load_1min() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_one(stack: LocalStack, kind: str, plants: int, messages: int, per: int,
            publishers: int, publisher: str, tmp: Path, peer: tuple[str, Path] | None,
            settle: float) -> dict[str, Any]:
    cluster = short_id()
    plant_ids = tuple(f"{cluster}-p{i}" for i in range(plants))
    topic = f"quantrac/v1/{cluster}/+/+/data"
    total = messages * per
    db = short_id()
    stack.create_database(db)
    load_before = load_1min()
    sender = PublisherProcesses(PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                                            plant_ids, messages, per), publishers,
                                raw=publisher == "raw")
    consumer: Any = None
    collector: Collector | None = None
    with contextlib.ExitStack() as stack_of_things:
        stack_of_things.callback(sender.kill)
        pid = os.getpid()
        if kind in ("bare", "bare_adapter"):
            counter = BareCounter if kind == "bare" else AdapterCounter
            consumer = counter(stack.mqtt_host, stack.mqtt_port, topic, per)
            stack_of_things.callback(consumer.close)
            progress: Callable[[], int] = lambda: consumer.records  # noqa: E731
        elif kind == "quantrac":
            client_id = f"col-{cluster}"
            config = bench_config(stack.mqtt_url, stack.influx_url, db, tmp / cluster,
                                  plant_ids, cluster, client_id)
            collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                                  config.checks, config.alerts, check_every=timedelta(hours=1))
            collector.start()
            stack_of_things.callback(drop_session, stack.mqtt_host, stack.mqtt_port, client_id)
            stack_of_things.callback(collector.stop)
            started = collector
            wait_until(lambda: started.scheduler.runs >= 1, 120, 0.05)
            stats = collector.intake.stats
            progress = lambda: stats.records_stored  # noqa: E731
        else:
            assert peer is not None
            node, red = peer
            pid = stack_of_things.enter_context(
                node_red(node, red, tmp / f"nr-{cluster}", flows(kind, stack, cluster, db)))
            progress = lambda: points_written(stack.influx_url, db)  # noqa: E731
        meter = CpuMeter({**sender.pids, **server_pids(stack), "consumer": pid})
        meter.start()
        busy = machine_busy_seconds()
        began = sender.go()
        # The counters of bare and quantrac are exact and cheap: a short poll; Node-RED's
        # needs an HTTP request to influxd, so 50 ms.
        written, ended = wait_progress(progress, total, began, settle,
                                       lambda: sender.finished,
                                       step=0.05 if kind.startswith("nodered") else 0.005)
        used = meter.stop()
        busy = machine_busy_seconds() - busy
        window = time.time() - began  # what the CPU figures cover (a lossy run: + settle)
        published = sender.result()
    seconds = max(ended - began, 1e-3)  # nothing stored at all: a rate of 0, not a crash
    stored = stored_count(stack.influx_url, db) if not kind.startswith("bare") else written
    ours = sum(used.values())
    row = {"records": total, "stored": stored, "lost": total - stored,
           "seconds": round(seconds, 3), "records_per_s": round(stored / seconds),
           "cpu_us_per_record": round(used["consumer"] / total * 1e6, 1),
           "publish_records_per_s": round(total / published["seconds"]),
           **cpu_figures(used, total, window),
           "machine_cores_busy": round(busy / window, 2),
           "others_cores_busy": round(max(0.0, busy - ours) / window, 2),
           "load_1min": [load_before, load_1min()]}
    publisher_cpu = sum(v for k, v in row["process_cpu_us_per_record"].items()
                        if k.startswith("publisher"))
    row["process_cpu_us_per_record"] = {
        "publishers": round(publisher_cpu, 2),
        **{k: v for k, v in row["process_cpu_us_per_record"].items()
           if not k.startswith("publisher")}}
    if collector is not None:
        row["dead_letters"] = collector.intake.stats.dead_letters
    print(f"{kind} x{per}: {row['records_per_s']:,} rec/s, {row['cpu_us_per_record']} us/record, "
          f"stored {stored:,}/{total:,}, load {row['load_1min']}", file=sys.stderr, flush=True)
    return row


def targets(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 16's targets from this run's medians (None where the peer was skipped)."""
    single, arrays = rows["single"], rows["array100"]

    def rate(shape: dict[str, Any], kind: str) -> float | None:
        return shape[kind]["records_per_s"] if kind in shape else None

    peers = [r for r in (rate(arrays, "nodered_message"), rate(arrays, "nodered_join")) if r]
    join_cpu = single["nodered_join"]["cpu_us_per_record"] if "nodered_join" in single else None
    out: dict[str, Any] = {
        "array_vs_faster_nodered": _target(arrays["quantrac"]["records_per_s"] / max(peers)
                                           if peers else None, ">=", 2.0),
        "array_vs_store": _target(arrays["quantrac"]["records_per_s"]
                                  / arrays["store"]["records_per_s"], ">=", 0.35),
        "array_cpu_us_per_record": _target(arrays["quantrac"]["cpu_us_per_record"], "<=", 5.0),
        "single_vs_bare": _target(single["quantrac"]["records_per_s"]
                                  / single["bare"]["records_per_s"], ">=", 0.95),
        # The same target against the ceiling in quantrac's own MQTT configuration (None
        # when not run): the harder, like-for-like one.
        "single_vs_bare_adapter": _target(
            single["quantrac"]["records_per_s"] / single["bare_adapter"]["records_per_s"]
            if "bare_adapter" in single else None, ">=", 0.95),
        "single_cpu_vs_nodered_join": _target(single["quantrac"]["cpu_us_per_record"] / join_cpu
                                              if join_cpu else None, "<=", 0.75),
    }
    return out


def _target(value: float | None, op: str, bound: float) -> dict[str, Any]:
    if value is None:
        return {"value": None, "target": f"{op} {bound}", "met": None}
    met = value >= bound if op == ">=" else value <= bound
    return {"value": round(value, 3), "target": f"{op} {bound}", "met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30000,
                        help="single-record messages (arrays: this / 3 messages of 100)")
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--publishers", type=int, default=2,
                        help="publisher processes, each with its own connection")
    parser.add_argument("--publisher", choices=("raw", "paho"), default="raw",
                        help="raw: pre-encoded PUBLISH packets written in bulk on a socket "
                             "(next to no CPU per message); paho: a paho client per process")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds without progress after which a consumer is done "
                             "(what it stored by then is what it stored)")
    parser.add_argument("--node", default="node")
    parser.add_argument("--npm", default="npm")
    parser.add_argument("--npm-timeout", type=float, default=600)
    parser.add_argument("--node-red-dir", type=Path, default=None,
                        help="install Node-RED there (kept) instead of a temporary folder; "
                             "an install already there is reused (repeated runs)")
    parser.add_argument("--only", choices=(*CONSUMERS, "store"), action="append",
                        help="run only these consumers (repeatable)")
    args = parser.parse_args()
    kinds = [k for k in (*CONSUMERS, "store") if not args.only or k in args.only]
    result: dict[str, Any] = {"benchmark": "peer", "plants": args.plants,
                              "rounds": args.rounds, "publishers": args.publishers,
                              "publisher": args.publisher,
                              "cores": os.cpu_count()}
    with LocalStack() as stack, tempfile.TemporaryDirectory(prefix="quantrac-peer-") as tmp:
        peer: tuple[str, Path] | None = None
        if any(k.startswith("nodered") for k in kinds):
            red, note = install_node_red(args.npm, args.node,
                                         args.node_red_dir or Path(tmp) / "node-red",
                                         args.npm_timeout)
            result["node_red"] = {"installed": note} if red else {"skipped": note}
            if red is not None:
                peer = (args.node, red)
            else:
                kinds = [k for k in kinds if not k.startswith("nodered")]
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            shape: {k: [] for k in kinds} for shape, _ in SHAPES}
        for _ in range(args.rounds):
            for shape, per in SHAPES:
                messages = args.messages if per == 1 else max(10, args.messages // 3)
                for kind in kinds:
                    runs[shape][kind].append(
                        run_store(stack, args.plants, messages, per) if kind == "store"
                        else run_one(stack, kind, args.plants, messages, per, args.publishers,
                                     args.publisher, Path(tmp), peer, args.settle))
        rows: dict[str, dict[str, Any]] = {}
        for shape, by_kind in runs.items():
            rows[shape] = {}
            for kind, items in by_kind.items():
                row = summarize(items)
                for key in ("stored", "lost", "machine_cores_busy", "others_cores_busy"):
                    if key in row:
                        row[key] = statistics.median(item[key] for item in items)
                for key in ("stored", "lost", "load_1min"):
                    if key in row:
                        row[f"each_{key}"] = [item[key] for item in items]
                row.pop("load_1min", None)
                rows[shape][kind] = row
        result.update(rows)
        if {"bare", "quantrac", "store"} <= set(kinds):
            result["targets"] = targets(rows)
    emit(result)


if __name__ == "__main__":
    main()
