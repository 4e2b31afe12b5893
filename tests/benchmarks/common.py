"""Shared benchmark code: plants and config, a publisher process, consumers, timing.

Every benchmark starts its own private stack (`quantrac.stack.LocalStack`), measures the thing
and its baseline side by side in the same run (the machine is shared and noisy, so only ratios
within one run mean much) and prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collector.lineprotocol import reading_lines
from collector.payload import encode_message, encode_record, parse_message
from quantrac.config import Config, parse_config

GOOD = {"flow_out": 60.0, "ph": 7.2, "cod": 50.0}
BREACH = {"flow_out": 60.0, "ph": 7.2, "cod": 420.0}


def short_id() -> str:
    return f"b{uuid.uuid4().hex[:8]}"


def plant_doc(plant_id: str, cluster: str) -> dict[str, Any]:
    """One plant section (QCVN 40:2011 column B, Kq 0.9: COD limit 135 mg/L)."""
    return {
        "id": plant_id, "cluster": cluster, "name": f"Bench {plant_id}",
        "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
        "interval": "5m", "stations": {"outlet": ["flow_out", "ph", "cod"]},
    }


def bench_config(
    mqtt_url: str, influx_url: str, database: str, state_dir: Path, plants: Sequence[str],
    cluster: str, client_id: str, mqtt_extra: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
) -> Config:
    """A collector config: given plants, the mqtt alert channel only, alerts fire at once."""
    return parse_config({
        "mqtt": {"url": mqtt_url, "client_id": client_id, **(mqtt_extra or {})},
        "influx": {"url": influx_url, "database": database},
        "state": {"dir": str(state_dir)},
        "service": service or {},
        "plants": [plant_doc(p, cluster) for p in plants],
        "alerts": {"channels": {"mqtt": {"type": "mqtt"}}, "min_duration": {}},
    })


def data_topic(cluster: str, plant: str) -> str:
    return f"quantrac/v1/{cluster}/{plant}/outlet/data"


# -- the publisher: a separate process, so it does not compete for our GIL -------------------

@dataclass(frozen=True)
class PublishPlan:
    """What the publisher process sends: `messages` messages round-robin over the plants."""

    host: str
    port: int
    cluster: str
    plants: tuple[str, ...]
    messages: int
    per_message: int = 1
    rate: float | None = None  # messages/s; None = as fast as possible
    breaches: tuple[int, ...] = ()  # message indexes carrying a breaching record
    breach_plants: tuple[str, ...] = ()  # the j-th breach goes to the j-th of these plants
    start: datetime | None = None  # first record time; None = so that the last is about now
    part: int = 0  # this publisher sends the plants whose index % parts == part
    parts: int = 1

    def split(self, parts: int) -> list[PublishPlan]:
        """The same messages sent by `parts` publishers, each a disjoint set of plants (the
        order of each plant's records is kept); one fixed start, so the records are identical
        whichever process builds them."""
        start = self.start or first_record_time(self)
        return [replace(self, start=start, part=k, parts=parts) for k in range(parts)]


def first_record_time(plan: PublishPlan) -> datetime:
    """The first record's time when the plan gives none: the last record about now."""
    span = plan.messages * plan.per_message // len(plan.plants) + 1
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=span)


def vary(values: dict[str, float], n: int) -> dict[str, float]:
    """Small deterministic wiggle: constant values would be flagged as a stuck sensor."""
    return {key: round(value * (1 + 0.01 * ((n * 7 + i * 3) % 11 - 5) / 5), 3)
            for i, (key, value) in enumerate(values.items())}


def build_payloads(plan: PublishPlan) -> list[tuple[str, bytes]]:
    """Distinct timestamps per plant (a point per record), compliant unless a breach."""
    breaches = {index: j for j, index in enumerate(plan.breaches)}
    out: list[tuple[str, bytes]] = []
    step = timedelta(seconds=1)
    start = plan.start or first_record_time(plan)
    mine = {p for i, p in enumerate(plan.plants) if i % plan.parts == plan.part} \
        if plan.parts > 1 else None
    per_plant: dict[str, int] = {}
    for index in range(plan.messages):
        plant = plan.plants[index % len(plan.plants)]
        if index in breaches and plan.breach_plants:
            plant = plan.breach_plants[breaches[index]]
        if mine is not None and plant not in mine:
            continue
        n = per_plant.get(plant, 0)
        per_plant[plant] = n + plan.per_message
        base = BREACH if index in breaches else GOOD
        records = [encode_record(start + step * (n + k), vary(base, n + k))
                   for k in range(plan.per_message)]
        out.append((data_topic(plan.cluster, plant), encode_message(records)))
    return out


def _publish_main(plan: PublishPlan, go: Any, results: Any, leave: Any) -> None:
    import paho.mqtt.client as mqtt

    payloads = build_payloads(plan)
    acked = threading.Semaphore(0)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{short_id()}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.on_publish = lambda *_a: acked.release()
    client.connect(plan.host, plan.port)
    client.loop_start()
    results.put({"ready": True})
    go.wait()
    stamps: dict[int, float] = {}
    breaches = set(plan.breaches)
    began = time.time()
    window = 2000  # bound paho's internal queue: at most this many unacknowledged
    for index, (topic, payload) in enumerate(payloads):
        if plan.rate:
            due = began + index / plan.rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
        if index >= window:
            acked.acquire()
        if index in breaches:
            stamps[index] = time.time()
        client.publish(topic, payload, qos=1)
    for _ in range(min(window, len(payloads))):
        acked.acquire(timeout=120)
    seconds = time.time() - began
    client.disconnect()
    client.loop_stop()
    results.put({"began": began, "seconds": seconds, "stamps": stamps})
    leave.wait(600)  # stay until the result is read: the CPU meter reads our /proc entry


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def mqtt_publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 1."""
    body = _mqtt_string(topic) + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + _varint(len(body)) + body


def _publish_raw_main(plan: PublishPlan, go: Any, results: Any, leave: Any) -> None:
    """A publisher that costs next to nothing per message: every PUBLISH packet encoded before
    `go`, then written in bulk on a plain socket with up to 1,000 unacknowledged (each PUBACK
    from the broker is 4 bytes), so paho's per-message cost is not what limits a fast
    consumer. MQTT 3.1.1, QoS 1, as the stations publish."""
    import socket

    packets = [mqtt_publish_packet(topic, payload, index % 65535 + 1)
               for index, (topic, payload) in enumerate(build_payloads(plan))]
    sock = socket.create_connection((plan.host, plan.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = _mqtt_string("MQTT") + bytes([4, 2]) + (0).to_bytes(2, "big") \
        + _mqtt_string(f"rawpub-{short_id()}")  # clean session, no keep-alive
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    connack = sock.recv(4)
    assert connack[:1] == b"\x20" and connack[3:4] == b"\x00", connack
    results.put({"ready": True})
    go.wait()
    began = time.time()
    window = 1000
    sent = received = 0
    while received < 4 * len(packets):
        if sent < len(packets) and sent - received // 4 < window:
            upto = min(len(packets), received // 4 + window)
            sock.sendall(b"".join(packets[sent:upto]))
            sent = upto
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        received += len(chunk)
    seconds = time.time() - began
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    results.put({"began": began, "seconds": seconds, "stamps": {}})
    leave.wait(600)


class PublisherProcess:
    """Starts the publisher process, waits until it is connected; `go()` starts publishing.
    `raw`: the bulk socket publisher instead of paho (no rate, no breach stamps)."""

    def __init__(self, plan: PublishPlan, raw: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self._go = ctx.Event()
        self._leave = ctx.Event()
        self._results = ctx.Queue()
        self._result: dict[str, Any] | None = None
        self._process = ctx.Process(target=_publish_raw_main if raw else _publish_main,
                                    args=(plan, self._go, self._results, self._leave),
                                    daemon=True)
        self._process.start()
        ready = self._results.get(timeout=60)
        assert ready.get("ready")

    def go(self) -> float:
        started = time.time()
        self._go.set()
        return started

    def result(self, timeout: float = 300) -> dict[str, Any]:
        out = self._result if self._result is not None else self._results.get(timeout=timeout)
        self._leave.set()
        self._process.join(10)
        return dict(out)

    @property
    def done(self) -> bool:
        """Everything sent and acknowledged (without waiting)."""
        if self._result is None:
            with contextlib.suppress(queue.Empty):
                self._result = self._results.get_nowait()
        return self._result is not None

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()


class PublisherProcesses:
    """Several publisher processes, each with its own connection and a share of the plants,
    so that the publishing side is not what limits a fast consumer."""

    def __init__(self, plan: PublishPlan, processes: int, raw: bool = False) -> None:
        self._publishers: list[PublisherProcess] = []
        try:
            for part in plan.split(processes):
                self._publishers.append(PublisherProcess(part, raw))
        except BaseException:
            self.kill()
            raise

    def go(self) -> float:
        started = time.time()
        for publisher in self._publishers:
            publisher.go()
        return started

    def result(self, timeout: float = 300) -> dict[str, Any]:
        """When publishing began and how long until the last publisher had its PUBACKs."""
        results = [publisher.result(timeout) for publisher in self._publishers]
        began = min(r["began"] for r in results)
        ended = max(r["began"] + r["seconds"] for r in results)
        return {"began": began, "seconds": ended - began}

    @property
    def pids(self) -> dict[str, int]:
        return {f"publisher{i}": p.pid for i, p in enumerate(self._publishers)}

    @property
    def finished(self) -> bool:
        """Every publisher has sent everything and had its PUBACKs."""
        return all(p.done for p in self._publishers)

    def kill(self) -> None:
        for publisher in self._publishers:
            publisher.kill()


# -- consumers ------------------------------------------------------------------------------

class BareCounter:
    """The transport ceiling: a paho QoS 1 subscriber that only counts (auto-ack)."""

    def __init__(self, host: str, port: int, topic: str, per_message: int) -> None:
        import paho.mqtt.client as mqtt

        self.records = 0
        self._per = per_message
        self._ready = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bare-{short_id()}",
                             protocol=mqtt.MQTTv5)
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: self._ready.set()
        client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        client.connect(host, port)
        client.loop_start()
        self._client = client
        self._ready.wait(10)

    def _on_message(self, _c: Any, _u: Any, _m: Any) -> None:
        self.records += self._per

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class AdapterCounter:
    """The transport ceiling in quantrac's own MQTT configuration: the collector's adapter
    (`collector.mqtt.MqttConnection`: the same paho client, MQTT 5 persistent session, QoS 1,
    manual acknowledgements), counting, with each batch acknowledged at once from a second
    thread as the intake does, without parsing or writing anything."""

    def __init__(self, host: str, port: int, topic: str, per_message: int) -> None:
        from collector.mqtt import Message, MqttConnection
        from collector.settings import MqttSettings

        self.records = 0
        self._per = per_message
        self._host, self._port = host, port
        self._client_id = f"adapter-{short_id()}"
        self._messages: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._connection = MqttConnection(
            MqttSettings(url=f"mqtt://{host}:{port}", client_id=self._client_id), [topic],
            self._messages.put)
        self._thread = threading.Thread(target=self._acknowledge, daemon=True)
        self._thread.start()
        self._connection.start()

    def _acknowledge(self) -> None:
        while True:
            batch = [self._messages.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 5000:
                    batch.append(self._messages.get_nowait())
            done = None in batch
            messages = [m for m in batch if m is not None]
            self._connection.ack_all(messages)
            self.records += self._per * len(messages)
            if done:
                return

    def close(self) -> None:
        self._messages.put(None)
        self._thread.join(10)
        self._connection.stop()
        drop_session(self._host, self._port, self._client_id)


class NaiveConsumer:
    """The naive collector: parse, one InfluxDB write per message, then the PUBACK."""

    def __init__(self, host: str, port: int, topic: str, influx_url: str, database: str) -> None:
        import paho.mqtt.client as mqtt

        from collector.influx1 import InfluxV1Store
        from collector.lineprotocol import reading_lines
        from collector.settings import InfluxSettings

        self.records = 0
        self._store = InfluxV1Store(InfluxSettings(url=influx_url, database=database))
        self._lines = reading_lines
        self._parse = parse_message
        self._ready = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"naive-{short_id()}",
                             protocol=mqtt.MQTTv5, manual_ack=True)
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: self._ready.set()
        client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        client.connect(host, port)
        client.loop_start()
        self._client = client
        self._ready.wait(10)

    def _on_message(self, client: Any, _u: Any, msg: Any) -> None:
        readings = self._parse(msg.topic, bytes(msg.payload))
        self._store.write_lines(self._lines(readings))
        client.ack(msg.mid, msg.qos)
        self.records += len(readings)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._store.close()


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.005) -> float:
    """Poll; the wall time (time.time()) when `predicate` first held. Raises on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(step)
    raise TimeoutError("benchmark condition not reached in time")


def rss_mb(pid: int | None = None) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc (Linux)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines()
              if line.startswith(("VmRSS", "VmHWM"))}
    return int(fields["VmRSS"]) / 1024, int(fields["VmHWM"]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by named processes between `start()` and `stop()`: who used the
    machine's cores during a run (the consumer, and the publisher and servers it shares
    them with)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}


def server_pids(stack: Any) -> dict[str, int]:
    return {"broker": stack.servers["mosquitto"].process.pid,
            "influxd": stack.servers["influxd"].process.pid}


def cpu_figures(used: dict[str, float], records: int, seconds: float) -> dict[str, Any]:
    """Each process's CPU µs per record, and how many cores were busy in all."""
    return {"process_cpu_us_per_record": {name: round(cpu / records * 1e6, 2)
                                          for name, cpu in used.items()},
            "cores_busy": round(sum(used.values()) / seconds, 2)}


def run_store(stack: Any, plants: int, messages: int, per: int) -> dict[str, Any]:
    """influxd's own ceiling for these records: pre-encoded lines, 2 connections, no MQTT."""
    cluster = short_id()
    plan = PublishPlan(stack.mqtt_host, stack.mqtt_port, cluster,
                       tuple(f"{cluster}-p{i}" for i in range(plants)), messages, per)
    payloads = build_payloads(plan)
    lines = [line for topic, payload in payloads
             for line in reading_lines(parse_message(topic, payload))]
    decode = time.process_time()
    for _topic, payload in payloads:
        json.loads(payload)
    decode = time.process_time() - decode
    db = short_id()
    stack.create_database(db)
    bodies = ["\n".join(lines[i:i + 5000]).encode() for i in range(0, len(lines), 5000)]
    lock = threading.Lock()

    def post() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not bodies:
                    return
                body = bodies.pop(0)
            response = session.post(f"{stack.influx_url}/write",
                                    params={"db": db, "precision": "ns"}, data=body, timeout=60)
            assert response.status_code == 204, response.text

    meter = CpuMeter({**server_pids(stack), "consumer": os.getpid()})
    meter.start()
    began = time.time()
    writers = [threading.Thread(target=post) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    seconds = time.time() - began
    used = meter.stop()
    return {"records": len(lines), "seconds": round(seconds, 3),
            "records_per_s": round(len(lines) / seconds),
            "cpu_us_per_record": round(used["consumer"] / len(lines) * 1e6, 1),
            "json_decode_cpu_us_per_record": round(decode / len(lines) * 1e6, 2),
            **cpu_figures(used, len(lines), seconds)}


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds, and every round's rate."""
    out = dict(items[0])
    for key in ("records_per_s", "cpu_us_per_record", "publish_records_per_s", "seconds",
                "cores_busy"):
        if key in out:
            out[key] = round(statistics.median(item[key] for item in items), 3)
    out["process_cpu_us_per_record"] = {
        name: round(statistics.median(item["process_cpu_us_per_record"][name]
                                      for item in items), 2)
        for name in out["process_cpu_us_per_record"]}
    out["records_per_s"] = round(out["records_per_s"])
    out["each_records_per_s"] = [item["records_per_s"] for item in items]
    return out


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one JSON line."""
    print(json.dumps(result, default=str), flush=True)


def drop_session(host: str, port: int, client_id: str) -> None:
    """Discard a stopped collector's persistent session, so the broker stops queueing for it."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect(host, port, clean_start=True, properties=props)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()
