"""Soak run (`make soak`; not in `make test`): the simulator at a sustained rate into a real
`quantrac collect` process for SOAK_MINUTES (default 30), with InfluxDB crashes and a broker
restart injected, then one JSON line of figures: published, stored, lost, duplicated, spool
peak, dead letters, longest replay (outage end → spool empty), collector RSS start/end.

Environment: SOAK_MINUTES (default 30), SOAK_RATE records/s (default 100), SOAK_OUT (a file
to append the JSON line to).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from collector.influx1 import InfluxV1Store
from collector.payload import parse_message
from quantrac.stack import LocalStack, free_port
from simulator.run import SimulateOptions, generate
from tests.conftest import wait_for
from tests.reliability.rig import (
    RobustPublisher,
    collector_config,
    parse,
    start_collector_process,
    stored_figures,
    write_toml,
)


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return round(int(match.group(1)) / 1024, 1) if match else -1.0


class MetricsWatch:
    """Scrapes the collector's /metrics: spool peak, and when the spool last became empty."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.spool_peak = 0
        self.spool_depth = 0
        self.dead_letters = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                text = requests.get(self.url, timeout=2).text
            except requests.RequestException:
                continue
            depth = re.search(r"^quantrac_spool_depth(?:\{\})? (\S+)$", text, re.M)
            dead = re.search(r"^quantrac_dead_letters_total(?:\{\})? (\S+)$", text, re.M)
            if depth:
                self.spool_depth = int(float(depth.group(1)))
                self.spool_peak = max(self.spool_peak, self.spool_depth)
            if dead:
                self.dead_letters = int(float(dead.group(1)))

    def time_to_drain(self, since: float, timeout: float) -> float:
        """Seconds from `since` until the spool is empty again."""
        wait_for(lambda: self.spool_depth == 0, timeout=timeout, step=0.25)
        return round(time.monotonic() - since, 1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


class FaultInjector:
    """Takes a server down for `outage_s` while publishing goes on, and times each InfluxDB
    replay (restart → spool empty).

    Servers are killed and restarted from the publishing (main) thread: the stack ties each
    child to the thread that spawned it (PR_SET_PDEATHSIG), so a helper thread that restarted
    one would take it down again when it ends.
    """

    def __init__(self, own: LocalStack, outage_s: float, watch: MetricsWatch) -> None:
        self.own = own
        self.outage_s = outage_s
        self.watch = watch
        self.drains: list[float] = []
        self._down: tuple[str, float] | None = None  # server, when to restart it
        self._timers: list[threading.Thread] = []

    def inject(self, server: str) -> None:
        self.poll(force=True)
        if server == "influxd":
            self.own.kill_server("influxd")
        else:
            self.own.stop_server("mosquitto")
        self._down = (server, time.monotonic() + self.outage_s)

    def poll(self, force: bool = False) -> None:
        """Restart the server that is down once its outage is over (call often)."""
        if self._down is None or (not force and time.monotonic() < self._down[1]):
            return
        server, _ = self._down
        self._down = None
        if server == "influxd":
            self.own.start_influxd()
            restarted = time.monotonic()
            timer = threading.Thread(
                target=lambda: self.drains.append(self.watch.time_to_drain(restarted, 600)),
                daemon=True)
            timer.start()
            self._timers.append(timer)
        else:
            self.own.start_mosquitto()

    def finish(self) -> None:
        while self._down is not None:
            time.sleep(0.1)
            self.poll()
        for timer in self._timers:
            timer.join(900)


@pytest.mark.slow
def test_soak(tmp_path: Path) -> None:
    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    rate = float(os.environ.get("SOAK_RATE", "100"))
    total = int(minutes * 60 * rate)
    plant_id = f"soak{uuid.uuid4().hex[:6]}"
    with LocalStack() as own:
        db = f"soak_{uuid.uuid4().hex[:6]}"
        own.create_database(db)
        raw = collector_config(own, db, tmp_path / "state", plant_id)
        http_port = free_port()
        raw["service"] = {"http_port": http_port, "log_level": "WARNING"}
        config = parse(raw)
        config_path = tmp_path / "collector.toml"
        write_toml(config_path, raw)
        log_path = tmp_path / "collector.log"
        proc = start_collector_process(config_path, log_path)
        store = InfluxV1Store(config.influx)
        pub = RobustPublisher(own.mqtt_host, own.mqtt_port)
        watch = MetricsWatch(f"http://127.0.0.1:{http_port}/metrics")
        try:
            assert wait_for(lambda: watch.spool_depth == 0 and _metrics_up(http_port), 30), (
                log_path.read_text()[-2000:])
            rss_start = _rss_mb(proc.pid)
            # The simulator's messages (one record per message), paced to `rate`.
            options = SimulateOptions(plant=plant_id, scenario="normal", backfill=True,
                                      interval=timedelta(seconds=1),
                                      duration=timedelta(seconds=total), seed=7)
            messages = generate(config.plants, options)
            outages = {  # fraction of the run → fault
                0.25: "influxd", 0.50: "mosquitto", 0.75: "influxd",
            }
            outage_s = max(5.0, min(60.0, minutes * 60 * 0.03))
            injector = FaultInjector(own, outage_s, watch)
            expected: set = set()
            topic_count = 0
            started = time.monotonic()
            faults: list[tuple[float, str]] = sorted(outages.items())
            for message in messages:
                if message.kind not in ("data", "backfill"):
                    continue
                readings = parse_message(message.topic, message.payload)
                expected.update(r.ts for r in readings)
                pub.publish(message.topic, [json.loads(message.payload)]
                            if message.payload.startswith(b"{") else json.loads(message.payload))
                topic_count += len(readings)
                due = started + topic_count / rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                injector.poll()
                if faults and topic_count >= faults[0][0] * total:
                    _, server = faults.pop(0)
                    injector.inject(server)
                if topic_count >= total:
                    break
            injector.finish()
            published = pub.wait_all(timeout=120)
            assert wait_for(lambda: store.count(plant_id) >= len(expected)
                            and watch.spool_depth == 0, timeout=300, step=1.0)
            span = (min(expected) - timedelta(minutes=1), max(expected) + timedelta(minutes=1))
            figures = stored_figures(store, plant_id, *span, expected)
            rss_end = _rss_mb(proc.pid)
            line = {
                "soak_minutes": minutes, "rate_per_s": rate,
                "achieved_rate_per_s": round(topic_count / (time.monotonic() - started), 1),
                "records_published": published, **figures,
                "spool_peak": watch.spool_peak, "dead_letters": watch.dead_letters,
                "outages": [f"{server} {outage_s:.0f}s" for _, server in sorted(outages.items())],
                "max_replay_lag_s": max(injector.drains, default=0.0),
                "collector_rss_mb_start": rss_start, "collector_rss_mb_end": rss_end,
            }
            print("\nSOAK " + json.dumps(line))
            if out := os.environ.get("SOAK_OUT"):
                with open(out, "a") as handle:
                    handle.write(json.dumps(line) + "\n")
            assert published == len(expected)
            assert (figures["lost"], figures["duplicated"]) == (0, 0)
        finally:
            watch.close()
            pub.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except Exception:
                    proc.kill()
            store.close()


def _metrics_up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except requests.RequestException:
        return False
