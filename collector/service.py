"""The collector service: MQTT intake → InfluxDB, inline instantaneous checks, scheduled checks,
alerts. One instance per process, built from its settings and passed down (no globals).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from alerts.manager import AlertManager
from alerts.settings import AlertSettings
from collector.checkbook import CheckBook
from collector.deadletter import DeadLetterStore
from collector.errors import CollectorError, PayloadError, StoreError
from collector.health import HealthServer
from collector.influx1 import InfluxV1Store
from collector.intake import Intake
from collector.metrics import collector_exposition
from collector.monitor import JOB_BASES, Monitor
from collector.mqtt import Message, MqttConnection, shared
from collector.partition import Partition
from collector.payload import Block, parse_block, utc_time
from collector.schedule import CheckScheduler, PeriodHook
from collector.settings import InfluxSettings, MqttSettings, StateSettings
from collector.spool import Spool
from collector.statedb import prepare_state_dir
from collector.store import open_store
from rules.cluster import ClusterLayout
from rules.collection import NETWORK_STATION, PARAMETER
from rules.findings import Finding
from rules.permit import Plant
from rules.settings import CheckSettings
from rules.topics import is_ack, subscription
from rules.windows import local_midnight

log = logging.getLogger("quantrac.collector")



class Collector:
    """Everything `quantrac collect` runs, startable and stoppable (tests, demo)."""

    def __init__(
        self,
        mqtt: MqttSettings,
        influx: InfluxSettings,
        state: StateSettings,
        plants: Sequence[Plant],
        checks: CheckSettings,
        alerts: AlertSettings,
        batch_size: int = 40000,
        flush_interval: float = 0.05,
        check_every: timedelta = timedelta(minutes=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lang: str | None = None,
        http: tuple[str, int] | None = None,
        on_period_closed: PeriodHook | None = None,
        partition: Partition | None = None,
        inline_period: float = 0.2,
        switch_interval: float | None = 0.001,
        clusters: Sequence[ClusterLayout] = (),
    ) -> None:
        self.partition = partition or Partition()
        self.inline_period = inline_period
        self.switch_interval = switch_interval
        if self.partition.split and not mqtt.share_group:
            raise CollectorError("several collector instances need [mqtt] share_group "
                                 "(an MQTT 5 shared subscription)")
        self.state_dir: Path = prepare_state_dir(state.dir)
        # Blocks of records waiting for the inline checks (their own thread, see
        # _inline_loop), with the watch messages to acknowledge once checked.
        self._inline: queue.Queue[tuple[list[Block], list[Message]]] = queue.Queue()
        self._clock = clock
        self.store = open_store(influx)
        self.spool = Spool(self.state_dir, state.spool_max_mb * 1_000_000)
        self.deadletters = DeadLetterStore(self.state_dir)
        owned = [p for p in plants if self.partition.owns(p.id)]
        self.clusters = [c for c in clusters if c.keeps_ledger and self.partition.owns_cluster(c)]
        # Plants of this instance's clusters that another instance owns: their data only
        # tells this one when a cluster's closed day must be judged again.
        self._foreign = {p.id: c for c in self.clusters for p in c.plants
                         if not self.partition.owns(p.id)}
        data = shared(subscription("data"), mqtt.share_group)
        if self.partition.split:
            # Shared: each message is stored by one instance. Watch: the owner of a plant sees
            # all of its data (inline checks, late marks) and its alert acknowledgements; the
            # owner of a cluster sees its other plants' data too (cluster late marks).
            watch = [subscription("data", plant=p.id) for p in owned]
            watch += [subscription("data", plant=p) for p in self._foreign]
            watch += [subscription("ack", plant=p.id) for p in owned]
            self.mqtt = MqttConnection(mqtt, [data], self._on_message, watch=watch)
        else:
            self.mqtt = MqttConnection(mqtt, [data, subscription("ack")], self._on_message)
        self.alerts = AlertManager(
            alerts, list(plants), self.state_dir, publish=self.mqtt.publish,
            record_points=self._record_alert_points, lang=lang, clusters=clusters,
        )
        self.intake = Intake(
            self.store, self.spool, self.deadletters, ack=self.mqtt.ack_all,
            on_durable=None if self.partition.split else self._queue_durable,
            batch_size=batch_size, flush_interval=flush_interval,
        )
        self.book = CheckBook(self.state_dir)
        self.monitor = Monitor(plants, checks, self.book, self.alerts, clock)
        self.scheduler = CheckScheduler(
            owned, checks, self.book, self._load_frame, self.monitor.file_check,
            clock=clock, every=check_every, on_period_closed=on_period_closed,
            clusters=self.clusters, cluster_sink=self._file_cluster,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.health_server = HealthServer(http[0], http[1], self.health, self.metrics_text) \
            if http else None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if isinstance(self.store, InfluxV1Store) and self.store.ping():
            try:
                self.store.ensure_database()
            except StoreError as exc:
                log.warning("could not ensure database: %s", exc)
        if self.switch_interval:
            # The alert outbox and MQTT threads make many short I/O calls, each re-taking the
            # GIL behind CPU-bound intake/check threads: 5 ms (default) per call made alert
            # delivery the bottleneck of alert latency under load (docs/performance.md).
            sys.setswitchinterval(self.switch_interval)
        self.alerts.start()
        self.mqtt.start()
        intake = self._spawn("intake", lambda: self.intake.run(self._stop))
        self._spawn("inline-checks", lambda: self._inline_loop(intake))
        self._spawn("alert-tick", self._tick_loop)
        self.scheduler.start()
        if self.health_server:
            self.health_server.start()

    def stop(self) -> None:
        self._stop.set()
        if self.health_server:
            self.health_server.stop()
        self.scheduler.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self.mqtt.stop()
        self.keep_latest()
        self.alerts.close()
        self.book.close()
        self.spool.close()
        self.deadletters.close()
        self.store.close()

    def run_forever(
        self, stop: threading.Event, on_ready: Callable[[], None] | None = None
    ) -> None:
        """Start, tell `on_ready` (connected and subscribed), run until `stop`, stop."""
        self.start()
        if on_ready is not None:
            on_ready()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _inline_loop(self, intake: threading.Thread) -> None:
        """Inline checks off the write thread, so writing never waits for them; at most one
        round per `inline_period`, batches that queued up meanwhile are checked together: the
        per-plant cost of a round is paid a few times a second, not per batch, under load."""
        last = 0.0
        while True:
            try:
                blocks, messages = self._inline.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set() and not intake.is_alive():
                    return
                continue
            pause = last + self.inline_period - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
            last = time.monotonic()
            taken = 1
            while True:
                try:
                    more, more_messages = self._inline.get_nowait()
                except queue.Empty:
                    break
                blocks, messages = blocks + more, messages + more_messages
                taken += 1
            try:
                self.monitor.judge_round(blocks)
            finally:
                self.mqtt.ack_all(messages)
                for _ in range(taken):
                    self._inline.task_done()

    def _tick_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.alerts.tick(self._clock())
            except Exception:
                log.exception("alert tick failed")
            self.keep_latest()

    def keep_latest(self) -> None:
        """Persist the series whose newest value changed (the console's last values; once a
        second from the tick thread, off the ingest path)."""
        try:
            self.book.keep_latest(self.monitor.take_changes())
        except Exception:
            log.exception("last values not kept")

    # -- intake callbacks ----------------------------------------------------------------
    def _on_message(self, message: Message) -> None:
        if is_ack(message.topic):
            try:
                self.alerts.handle_ack_message(message.topic, message.payload, self._clock())
            except Exception as exc:
                self.deadletters.add(message.topic, message.payload, f"bad acknowledgement: {exc}")
            self.mqtt.ack(message)
            return
        if message.watch:
            self._on_watched(message)
            return
        self.intake.submit(message)

    def _queue_durable(self, blocks: list[Block]) -> None:
        self._inline.put((blocks, []))

    def _on_watched(self, message: Message) -> None:
        """A plant this instance owns: inline checks only (whoever got the shared copy
        stores it); acknowledged once checked."""
        try:
            block = parse_block(message.topic, message.payload)
        except PayloadError:
            self.mqtt.ack(message)  # the storing instance dead-letters it
            return
        cluster = self._foreign.get(block.plant)
        if cluster is not None:
            earliest = utc_time(block.times.min())
            if earliest < local_midnight(self._clock(), cluster.zone):
                self.book.mark_cluster_late(cluster.id, earliest)
            self.mqtt.ack(message)
            return
        self._inline.put(([block], [message]))

    def _load_frame(self, plant: Plant, start: datetime, end: datetime) -> pd.DataFrame:
        return self.store.read_frame(plant.id, start, end)

    def _file_cluster(
        self, plant: str, findings: Sequence[Finding], judged: bool, now: datetime, job: str
    ) -> None:
        """A cluster's collection findings to the alert book, as a plant's daily and monthly
        results go (`Monitor.file_check`): only the job's bases; a judged period without a
        finding clears the open alert."""
        bases = JOB_BASES.get(job)
        if bases is None:
            return
        scope = [(plant, NETWORK_STATION, PARAMETER)] if judged else []
        self.alerts.observe([f for f in findings if f.basis in bases], scope, now, bases=bases)

    def _record_alert_points(self, lines: list[str]) -> None:
        try:
            self.store.write_lines(lines)
        except StoreError as exc:
            log.warning("alert points not written to InfluxDB: %s", exc)

    # -- status ----------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        s = self.intake.stats
        return {
            "messages": s.messages,
            "records_received": s.records_received,
            "records_stored": s.records_stored,
            "records_spooled": s.records_spooled,
            "spool_depth": self.spool.depth,
            "dead_letters": s.dead_letters,
        }

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the broker is connected and InfluxDB answers or the spool accepts."""
        broker = self.mqtt.connected.is_set()
        store = self.intake.store_up and self.store.ping()
        spool_ok = not self.intake.stats.spool_alarm
        ready = broker and (store or spool_ok)
        return ready, {
            "status": "ok" if ready else "unavailable",
            "broker": broker, "store": store, "spool_accepting": spool_ok,
            "spool_depth": self.spool.depth, "alarm": self.intake.stats.spool_alarm,
        }

    def metrics_text(self) -> str:
        now = self._clock()
        states: dict[str, int] = {}
        for alert in self.alerts.list_alerts(open_only=True):
            states[alert.state] = states.get(alert.state, 0) + 1
        return collector_exposition(
            self.intake.stats, self.spool.depth, self.scheduler.check_seconds, states,
            {station: (now - ts).total_seconds()
             for station, ts in self.monitor.last_seen().items()},
        )

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued for writing or for the inline checks."""
        deadline = time.monotonic() + timeout
        if not self.intake.wait_idle(timeout):
            return False
        while self._inline.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


__all__ = ["Collector", "CollectorError"]
