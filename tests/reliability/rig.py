"""The fault-test rig: a collector built from a config dict, a publisher that survives broker
restarts, paced publishing, and the stored/lost/duplicated figures."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from collector.payload import encode_message, encode_record
from collector.service import Collector
from quantrac.config import Config, parse_config
from quantrac.stack import LocalStack


def collector_config(
    own: LocalStack, db: str, state_dir: Path, plant: str, **mqtt_extra: Any
) -> dict[str, Any]:
    """The config dict (as TOML would give it) of a one-plant collector on `own`."""
    return {
        "mqtt": {"url": own.mqtt_url, "client_id": f"col-{plant}", **mqtt_extra},
        "influx": {"url": own.influx_url, "database": db},
        "state": {"dir": str(state_dir)},
        "service": {"http_port": 0},
        "plants": [{
            "id": plant, "cluster": plant, "name": "Fault-test plant",
            "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
            "interval": "5m", "stations": {"outlet": ["flow_out", "ph", "cod"]},
        }],
        "alerts": {"channels": {"mqtt": {"type": "mqtt"}}, "min_duration": {}},
    }


def build_collector(config: Config) -> Collector:
    return Collector(config.mqtt, config.influx, config.state, config.plants, config.checks,
                     config.alerts, check_every=timedelta(hours=1))


def parse(config: dict[str, Any]) -> Config:
    return parse_config(config)


def records(n: int, start: datetime, step: timedelta = timedelta(seconds=5),
            cod: float = 50.0) -> list[dict[str, Any]]:
    """n distinct wire records (distinct times → distinct points), cod varying by index."""
    return [encode_record(start + step * i, {"flow_out": 60.0, "ph": 7.1, "cod": cod + i % 10},
                          seq=i) for i in range(n)]


class RobustPublisher:
    """QoS 1 station stand-in that keeps unacknowledged messages across broker restarts.

    paho resends every message without a PUBACK after it reconnects; `published` counts only
    what the broker acknowledged, which is what the collector is accountable for.
    """

    def __init__(self, host: str, port: int) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"station-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._infos: list[tuple[mqtt.MQTTMessageInfo, list[str]]] = []
        client.connect(host, port)
        client.loop_start()
        self._client = client

    def publish(self, topic: str, batch: list[dict[str, Any]]) -> None:
        info = self._client.publish(topic, encode_message(batch), qos=1)
        self._infos.append((info, [f"{topic} {r['ts']}" for r in batch]))

    def wait_all(self, timeout: float = 30.0) -> int:
        """Wait for the broker's PUBACKs; the number of distinct records acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(_acked(info) for info, _ in self._infos):
                break
            time.sleep(0.05)
        return len({key for info, keys in self._infos if _acked(info) for key in keys})

    @property
    def pending(self) -> int:
        return sum(1 for info, _ in self._infos if not _acked(info))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def publish_paced(pub: RobustPublisher, topic: str, batches: list[list[dict[str, Any]]],
                  rate_per_s: float) -> threading.Thread:
    """Publish batches at a steady pace in a thread (the stream a fault hits mid-way)."""

    def run() -> None:
        for batch in batches:
            pub.publish(topic, batch)
            time.sleep(1.0 / rate_per_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def stored_figures(store: Any, plant: str, start: datetime, end: datetime,
                   expected_times: set[datetime]) -> dict[str, int]:
    """Stored points, how many of the expected record times are missing, duplicated times."""
    frame = store.read_frame(plant, start, end)
    times = [t.to_pydatetime() for t in frame["time"]] if len(frame) else []
    stored = set(times)
    return {
        "stored": len(stored & expected_times),
        "lost": len(expected_times - stored),
        "duplicated": len(times) - len(stored),
        "unexpected": len(stored - expected_times),
    }


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    """PUBACK received. `is_published()` raises for a message published while disconnected,
    although paho keeps it and resends it after reconnecting; the flag is what we need."""
    return bool(info._published)


class PrivateBroker:
    """A Mosquitto with a custom listener block (password file, TLS), for security tests."""

    def __init__(self, root: Path, listener_lines: list[str]) -> None:
        from quantrac.stack import MOSQUITTO_CANDIDATES, find_binary, free_port

        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", *listener_lines, f"user {getpass.getuser()}",
                 f"log_dest file {root}/mosquitto.log", "log_type error", ""]
        conf.write_text("\n".join(lines))
        self.log = root / "mosquitto.log"
        self.process = subprocess.Popen([find_binary(MOSQUITTO_CANDIDATES), "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("private mosquitto did not listen")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def write_toml(path: Path, config: dict) -> None:
    """Just enough TOML for a collector config (strings, numbers, tables, arrays of tables)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(str(v))

    lines: list[str] = []
    for section, body in config.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


def start_collector_process(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "quantrac.cli", "collect", "--config", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
