"""The intake loop: MQTT messages → validated readings → InfluxDB or the spool → PUBACK.

A message is acknowledged only after its points are durable: written to InfluxDB, or pushed to
the on-disk spool while InfluxDB is down. Invalid messages go to the dead-letter store (then
acknowledged: keeping them would only block the session). A batch InfluxDB rejects (4xx) is
split until the bad points are isolated into dead letters, so one poison record cannot block
the queue. When even the spool cannot take a batch (full, disk full) the batch is held
unacknowledged and retried: the broker keeps the rest, nothing is dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from collector.deadletter import DeadLetterStore
from collector.errors import CollectorError, PayloadError, StoreError
from collector.lineprotocol import reading_line
from collector.metrics import Histogram
from collector.mqtt import Message
from collector.payload import Reading, parse_message
from collector.spool import Spool
from collector.store import InfluxV1Store

log = logging.getLogger("quantrac.collector")

SPOOL_ALARM_FILL = 0.8


@dataclass
class IntakeStats:
    """Counters for the summary, /metrics and tests (one instance per collector)."""

    messages: int = 0
    records_received: int = 0
    records_stored: int = 0
    records_spooled: int = 0
    records_replayed: int = 0
    dead_letters: int = 0
    write_seconds: Histogram = field(default_factory=Histogram)
    spool_alarm: str = ""


@dataclass
class _Batch:
    messages: list[Message] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


class Intake:
    """Owns the write thread; `submit` is called from the MQTT network thread."""

    def __init__(
        self,
        store: InfluxV1Store,
        spool: Spool,
        deadletters: DeadLetterStore,
        ack: Callable[[Message], None],
        on_durable: Callable[[list[Reading]], None] | None = None,
        batch_size: int = 5000,
        flush_interval: float = 0.05,
        retry_interval: float = 2.0,
    ) -> None:
        self.store = store
        self.spool = spool
        self.deadletters = deadletters
        self._ack = ack
        self._on_durable = on_durable
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self.stats = IntakeStats()
        self._queue: queue.Queue[Message] = queue.Queue()
        self._store_down_until = 0.0
        self._idle = threading.Event()

    def submit(self, message: Message) -> None:
        self._queue.put(message)

    @property
    def store_up(self) -> bool:
        return time.monotonic() >= self._store_down_until

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set and the in-memory queue is drained."""
        held: _Batch | None = None
        while True:
            if held is None:
                held = self._collect(stop)
            if held.messages:
                if self._make_durable(held):
                    self._finish(held)
                    held = None
                else:
                    if stop.wait(self.retry_interval):
                        return  # unacknowledged: the broker redelivers after restart
                    continue
            else:
                held = None
            self._replay_some()
            if stop.is_set() and self._queue.empty():
                return

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued (tests and the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.is_set():
                return True
            time.sleep(0.02)
        return False

    def _collect(self, stop: threading.Event) -> _Batch:
        batch = _Batch()
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            self._idle.set()
            return batch
        self._idle.clear()
        deadline = time.monotonic() + self.flush_interval
        message: Message | None = first
        while message is not None:
            self._add(batch, message)
            if len(batch.lines) >= self.batch_size:
                break
            try:
                message = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                message = None
        return batch

    def _add(self, batch: _Batch, message: Message) -> None:
        self.stats.messages += 1
        batch.messages.append(message)
        try:
            readings = parse_message(message.topic, message.payload)
        except PayloadError as exc:
            self._dead_letter(message.topic, message.payload, str(exc))
            return
        self.stats.records_received += len(readings)
        batch.readings.extend(readings)
        batch.lines.extend(reading_line(r) for r in readings)

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        log.warning("dead letter on %s: %s", topic[:200], reason)
        self.deadletters.add(topic, payload, reason)
        self.stats.dead_letters += 1

    def _make_durable(self, batch: _Batch) -> bool:
        """True once every point of the batch is in InfluxDB or the spool."""
        if not batch.lines:
            return True
        if self.store_up and self.spool.batches == 0:
            started = time.perf_counter()
            try:
                self._write_isolating(batch.lines)
            except StoreError as exc:
                self._mark_down(exc)
            else:
                self.stats.write_seconds.observe(time.perf_counter() - started)
                self.stats.records_stored += len(batch.lines)
                return True
        try:
            self.spool.push(batch.lines)
        except CollectorError as exc:
            log.error("cannot spool %d points, holding them unacknowledged: %s",
                      len(batch.lines), exc)
            self.stats.spool_alarm = str(exc)
            return False
        self.stats.records_spooled += len(batch.lines)
        if self.spool.fill >= SPOOL_ALARM_FILL:
            self.stats.spool_alarm = f"spool at {self.spool.fill:.0%} of its limit"
            log.error("ALARM: %s (InfluxDB down?)", self.stats.spool_alarm)
        return True

    def _write_isolating(self, lines: Sequence[str]) -> None:
        """Write; on a 4xx split the batch until the rejected points are isolated."""
        try:
            self.store.write_lines(lines)
        except StoreError as exc:
            if exc.retryable:
                raise
            if len(lines) == 1:
                self._dead_letter("influxdb-rejected", lines[0].encode(), str(exc))
                return
            middle = len(lines) // 2
            self._write_isolating(lines[:middle])
            self._write_isolating(lines[middle:])

    def _mark_down(self, exc: StoreError) -> None:
        if self.store_up:
            log.error("InfluxDB write failed, spooling to disk: %s", exc)
        self._store_down_until = time.monotonic() + self.retry_interval

    def _finish(self, batch: _Batch) -> None:
        for message in batch.messages:
            self._ack(message)
        if batch.readings and self._on_durable is not None:
            self._on_durable(batch.readings)

    def _replay_some(self, max_batches: int = 4) -> None:
        """Move a few spooled batches to InfluxDB, oldest first, between live batches."""
        for _ in range(max_batches):
            if self.spool.batches == 0 or not self.store_up:
                return
            head = self.spool.peek()
            if head is None:
                return
            batch_id, lines = head
            try:
                self._write_isolating(lines)
            except StoreError as exc:
                self._mark_down(exc)
                return
            self.spool.remove(batch_id)
            self.stats.records_replayed += len(lines)
            self.stats.records_stored += len(lines)
            if self.spool.batches == 0:
                log.info("spool drained")
                self.stats.spool_alarm = ""
