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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alerts.manager import AlertManager
from alerts.settings import AlertSettings
from collector.deadletter import DeadLetterStore
from collector.errors import CollectorError, PayloadError, StoreError
from collector.health import HealthServer
from collector.intake import Intake
from collector.metrics import render_metric
from collector.mqtt import Message, MqttConnection, shared
from collector.partition import Partition
from collector.payload import Reading, parse_message
from collector.schedule import CheckBook, CheckScheduler, PeriodHook, hour_floor
from collector.settings import InfluxSettings, MqttSettings, StateSettings
from collector.spool import Spool
from collector.statedb import prepare_state_dir
from collector.store import InfluxV1Store, open_store
from rules.evaluate import instantaneous_series_findings
from rules.findings import Finding
from rules.limits import EffectiveLimits, plant_limits
from rules.permit import Plant
from rules.results import CheckResult
from rules.series import Series, series_of
from rules.settings import CheckSettings
from rules.topics import is_ack, subscription

log = logging.getLogger("quantrac.collector")

# Kinds the per-batch check judges (and may clear); the rest need the scheduled check.
INLINE_KINDS = frozenset({"exceedance", "below_minimum", "bypass"})
QUALITY_KINDS = frozenset({"no_data", "sensor_fault"})
# Which finding bases each scheduled job reports to the alert book ("review" = none).
JOB_BASES: dict[str, set[str]] = {
    "frequent": {"hourly_mean"},
    "daily": {"daily_mean", "day"},
    "monthly": {"monthly_mean", "month"},
}


def readings_frame(readings: Sequence[Reading]) -> pd.DataFrame:
    """In-memory readings → the readings frame, built column by column (a row-dict frame cost
    5 µs per record). The inline check no longer uses it (_plant_series gives the same series
    without a frame); its tests compare against it."""
    keys = sorted({key for r in readings for key in r.values})
    nan = float("nan")
    seconds = np.fromiter((r.ts.timestamp() for r in readings), dtype=np.float64,
                          count=len(readings))
    columns: dict[str, Any] = {
        # Whole microseconds fit a float exactly; ns from them by integer multiplication.
        "time": pd.to_datetime(np.round(seconds * 1e6).astype("int64") * 1000, unit="ns",
                               utc=True),
        "plant": [r.plant for r in readings],
        "station": [r.station for r in readings],
    }
    for key in keys:
        columns[key] = np.fromiter((r.values.get(key, nan) for r in readings),
                                   dtype=np.float64, count=len(readings))
    for key in keys:
        columns[f"{key}_status"] = np.fromiter((r.status.get(key, 0) for r in readings),
                                               dtype=np.int64, count=len(readings))
    frame = pd.DataFrame(columns)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _plant_series(
    stations: dict[str, list[Reading]], plant: Plant, settings: CheckSettings
) -> list[Series]:
    """The series of one plant's configured station/parameters in a batch, in time order
    (stable, times as readings_frame rounds them): what instantaneous_findings would pull
    out of readings_frame(batch)."""
    nan = float("nan")
    out: list[Series] = []
    for station, items in stations.items():
        keys = plant.stations.get(station)
        if not keys:
            continue
        n = len(items)
        seconds = np.fromiter((r.ts.timestamp() for r in items), dtype=np.float64, count=n)
        times = np.round(seconds * 1e6).astype("int64") * 1000
        if n > 1 and (np.diff(times) < 0).any():
            order = np.argsort(times, kind="stable")
            times = times[order]
            items = [items[i] for i in order.tolist()]
        flagged = any(r.status for r in items)
        for key in keys:
            values = np.fromiter((r.values.get(key, nan) for r in items), dtype=np.float64,
                                 count=n)
            status = (np.fromiter((r.status.get(key, 0) for r in items), dtype=np.int64,
                                  count=n)
                      if flagged else np.zeros(n, dtype=np.int64))
            out.append(series_of(station, key, times, values, status, settings))
    return out


def _note_latest(
    plant: str, station: str, items: list[Reading],
    latest: dict[tuple[str, str, str], float], latest_at: dict[tuple[str, str, str], datetime],
) -> None:
    """Per parameter, the value and time of the station's last reading (by time, stable) that
    has it with status 00."""
    seen: set[str] = set()
    keys = set().union(*(r.values for r in items))
    for r in reversed(sorted(items, key=attrgetter("ts"))):
        for key, value in r.values.items():
            if key not in seen and key not in r.status:
                seen.add(key)
                latest[(plant, station, key)] = value
                latest_at[(plant, station, key)] = r.ts
        if len(seen) == len(keys):
            return


@dataclass
class _LimitCache:
    """Effective limits per plant and plant-local day (permits change on dates)."""

    entries: dict[tuple[str, date], EffectiveLimits] = field(default_factory=dict)

    def get(self, plant: Plant, day: date) -> EffectiveLimits:
        key = (plant.id, day)
        if key not in self.entries:
            self.entries = {k: v for k, v in self.entries.items() if k[1] >= day}
            self.entries[key] = plant_limits(plant, day)
        return self.entries[key]


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
        batch_size: int = 5000,
        flush_interval: float = 0.05,
        check_every: timedelta = timedelta(minutes=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lang: str | None = None,
        http: tuple[str, int] | None = None,
        on_period_closed: PeriodHook | None = None,
        partition: Partition | None = None,
        inline_period: float = 0.2,
        switch_interval: float | None = 0.001,
    ) -> None:
        self.partition = partition or Partition()
        self.inline_period = inline_period
        self.switch_interval = switch_interval
        if self.partition.split and not mqtt.share_group:
            raise CollectorError("several collector instances need [mqtt] share_group "
                                 "(an MQTT 5 shared subscription)")
        self.state_dir: Path = prepare_state_dir(state.dir)
        # Readings waiting for the inline checks (their own thread, see _inline_loop), with
        # the watch messages to acknowledge once checked.
        self._inline: queue.Queue[tuple[list[Reading], list[Message]]] = queue.Queue()
        self.plants = {p.id: p for p in plants}
        self.checks = checks
        self._clock = clock
        self._limits = _LimitCache()
        self.store = open_store(influx)
        self.spool = Spool(self.state_dir, state.spool_max_mb * 1_000_000)
        self.deadletters = DeadLetterStore(self.state_dir)
        owned = [p for p in plants if self.partition.owns(p.id)]
        data = shared(subscription("data"), mqtt.share_group)
        if self.partition.split:
            # Shared: each message is stored by one instance. Watch: the owner of a plant sees
            # all of its data (inline checks, late marks) and its alert acknowledgements.
            watch = [subscription("data", plant=p.id) for p in owned]
            watch += [subscription("ack", plant=p.id) for p in owned]
            self.mqtt = MqttConnection(mqtt, [data], self._on_message, watch=watch)
        else:
            self.mqtt = MqttConnection(mqtt, [data, subscription("ack")], self._on_message)
        self.alerts = AlertManager(
            alerts, list(plants), self.state_dir, publish=self.mqtt.publish,
            record_points=self._record_alert_points, lang=lang,
        )
        self.intake = Intake(
            self.store, self.spool, self.deadletters, ack=self.mqtt.ack,
            on_durable=None if self.partition.split else self._queue_durable,
            batch_size=batch_size, flush_interval=flush_interval,
        )
        self.book = CheckBook(self.state_dir)
        self.scheduler = CheckScheduler(
            owned, checks, self.book, self._load_frame, self._on_checked,
            clock=clock, every=check_every, on_period_closed=on_period_closed,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_seen: dict[tuple[str, str], datetime] = {}
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
                readings, messages = self._inline.get(timeout=0.2)
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
                readings, messages = readings + more, messages + more_messages
                taken += 1
            try:
                self._on_durable(readings)
            finally:
                for message in messages:
                    self.mqtt.ack(message)
                for _ in range(taken):
                    self._inline.task_done()

    def _tick_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.alerts.tick(self._clock())
            except Exception:
                log.exception("alert tick failed")

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

    def _queue_durable(self, readings: list[Reading]) -> None:
        self._inline.put((readings, []))

    def _on_watched(self, message: Message) -> None:
        """A plant this instance owns: inline checks only (whoever got the shared copy
        stores it); acknowledged once checked."""
        try:
            readings = parse_message(message.topic, message.payload)
        except PayloadError:
            self.mqtt.ack(message)  # the storing instance dead-letters it
            return
        self._inline.put((readings, [message]))

    def _on_durable(self, readings: list[Reading]) -> None:
        """Inline instantaneous checks on every durable batch (alert latency), late marks."""
        now = self._clock()
        by_plant: dict[str, dict[str, list[Reading]]] = {}
        for reading in readings:
            by_plant.setdefault(reading.plant, {}).setdefault(reading.station, []).append(
                reading)
        for reading in readings:
            station = (reading.plant, reading.station)
            if station not in self.last_seen or self.last_seen[station] < reading.ts:
                self.last_seen[station] = reading.ts
        findings: list[Finding] = []
        latest: dict[tuple[str, str, str], float] = {}
        latest_at: dict[tuple[str, str, str], datetime] = {}
        # Series straight from the readings, no frame: a frame filtered per plant and station
        # cost ~0.6 ms per plant per round (the same arrays as readings_frame would give).
        try:
            extracted = {plant_id: _plant_series(stations, plant, self.checks)
                         for plant_id, stations in by_plant.items()
                         if (plant := self.plants.get(plant_id)) is not None}
        except Exception:
            log.exception("inline checks skipped: cannot frame %d readings", len(readings))
            return
        for plant_id, stations in by_plant.items():
            plant = self.plants.get(plant_id)
            if plant is None:
                continue
            earliest = min(r.ts for items in stations.values() for r in items)
            # A record for an hour the frequent check may have judged already: re-judge it.
            if earliest < hour_floor(now, plant):
                self.book.mark_late(plant_id, earliest)
            try:
                limits = self._limits.get(plant, now.astimezone(plant.zone).date())
                findings.extend(
                    instantaneous_series_findings(extracted[plant_id], plant, self.checks, limits)
                )
                for name, items in stations.items():
                    _note_latest(plant_id, name, items, latest, latest_at)
            except Exception:
                log.exception("inline check failed for plant %s", plant_id)
        if not latest and not findings:
            return
        try:
            # One observation per batch, not per plant: each one reads the open alerts.
            self.alerts.observe(findings, list(latest), now, values=latest,
                                bases={"instantaneous"}, kinds=INLINE_KINDS)
            # A round can hold a breach and, after it, readings back under the limit (a
            # backfill, a busy round): the breach must not be the round's last word.
            breached: dict[tuple[str, str, str], datetime] = {}
            for f in findings:
                series = (f.plant, f.station, f.parameter)
                breached[series] = max(f.end, breached.get(series, f.end))
            after = {series: latest[series] for series, end in breached.items()
                     if series in latest and latest_at[series] > end}
            if after:
                self.alerts.observe([], list(after), now, values=after,
                                    bases={"instantaneous"}, kinds=INLINE_KINDS)
        except Exception:
            log.exception("inline alert update failed for %d plant(s)", len(by_plant))

    def _load_frame(self, plant: Plant, start: datetime, end: datetime) -> pd.DataFrame:
        return self.store.read_frame(plant.id, start, end)

    def _on_checked(
        self, plant: Plant, result: CheckResult, start: datetime, end: datetime, now: datetime,
        job: str,
    ) -> None:
        """Windowed findings to the alert book. Instantaneous breaches are the inline check's
        (re-reading them here would reopen finished episodes); silence (`no_data`) can only be
        seen here. Daily/monthly jobs pass only their own bases, so the review of a whole day
        does not reopen the day's hourly episodes."""
        bases = JOB_BASES.get(job)
        if bases is None:
            return
        scope = sorted({(c.plant, c.station, c.parameter) for c in result.completeness
                        if c.valid > 0})
        self.alerts.observe([f for f in result.findings if f.basis in bases], scope, now,
                            bases=bases)
        if job == "frequent":
            # Silence and sensor faults (stuck, jumps) need history: judged and cleared here.
            quality = [f for f in result.findings if f.kind in QUALITY_KINDS]
            self.alerts.observe(quality, scope, now, kinds=QUALITY_KINDS)

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
        s = self.intake.stats
        now = self._clock()
        states: dict[str, int] = {}
        for alert in self.alerts.list_alerts(open_only=True):
            states[alert.state] = states.get(alert.state, 0) + 1
        lines = [
            *render_metric("quantrac_records_received_total", "counter",
                           "records received over MQTT", [({}, s.records_received)]),
            *render_metric("quantrac_records_stored_total", "counter",
                           "records written to InfluxDB", [({}, s.records_stored)]),
            *render_metric("quantrac_records_spooled_total", "counter",
                           "records spooled to disk while InfluxDB was down",
                           [({}, s.records_spooled)]),
            *render_metric("quantrac_dead_letters_total", "counter",
                           "messages rejected to the dead-letter store", [({}, s.dead_letters)]),
            *s.write_seconds.render("quantrac_write_seconds", "InfluxDB write latency"),
            *render_metric("quantrac_spool_depth", "gauge", "records waiting in the spool",
                           [({}, self.spool.depth)]),
            *self.scheduler.check_seconds.render("quantrac_check_seconds",
                                                 "duration of a scheduled check of one plant"),
            *render_metric("quantrac_alerts", "gauge", "open alerts by state",
                           [({"state": k}, v) for k, v in sorted(states.items())]),
            *render_metric(
                "quantrac_station_last_seen_seconds", "gauge",
                "seconds since the newest record of a station",
                [({"plant": p, "station": st}, (now - ts).total_seconds())
                 # dict() copies atomically; the inline thread keeps inserting meanwhile.
                 for (p, st), ts in sorted(dict(self.last_seen).items())],
            ),
        ]
        return "\n".join(lines) + "\n"

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


__all__ = ["Collector", "CollectorError", "readings_frame"]
