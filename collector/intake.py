"""The intake loop: MQTT messages → validated blocks of records → InfluxDB or the spool → PUBACK.

A message is acknowledged only after its points are durable: written to InfluxDB, or pushed to
the on-disk spool while InfluxDB is down. Invalid messages go to the dead-letter store (then
acknowledged: keeping them would only block the session). A batch InfluxDB rejects (4xx) is
split until the bad points are isolated into dead letters, so one poison record cannot block
the queue. When even the spool cannot take a batch (full, disk full) the batch is held
unacknowledged and retried: the broker keeps the rest, nothing is dropped; replay goes on
meanwhile and, once InfluxDB is back, a held batch is written past the spool. See
docs/reliability.md.

Two threads, one batch in flight: the intake thread (`run`) parses messages into batch N+1
while a single writer thread makes batch N durable, acknowledges it and replays some of the
spool (`_settle`, what the serial loop did between two collects). Batch N+1 is handed over
only once N is settled, so acknowledgements stay in batch order, the intake uses the store
(one requests Session), the spool and the dead letters from the writer thread alone, and at
most two batches are in memory (the one being written or held, the one parsed ahead). A held
batch is retried before the one parsed after it; nothing more is read from the queue meanwhile
(the broker keeps the rest). The intake thread used to wait a third of its time for influxd's
answer, now 8 %: 100-record arrays went from a median 96k to 119k records/s in bench_peer
(docs/performance.md).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from collector.deadletter import DeadLetterStore
from collector.errors import CollectorError, PayloadError, StoreError
from collector.lineprotocol import block_text
from collector.metrics import Histogram
from collector.mqtt import Message
from collector.payload import Block, parse_block
from collector.spool import Spool
from collector.store import Store

log = logging.getLogger("quantrac.collector")

SPOOL_ALARM_FILL = 0.8
# CPython's default generation-0 threshold (700 allocations) made the cyclic collector a third
# of the intake thread's time on 100-record arrays (py-spy --native; ~8 -> ~5.5 µs/record with
# these, when a record was a Reading): each record still makes a tracked dict while decoding,
# and every collection also walks the batch held until it is durable. Nothing here makes many
# cycles.
GC_THRESHOLDS = (10_000, 50, 50)


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
    spool_peak: int = 0  # most points ever waiting in the spool
    replay_lag_max_s: float = 0.0  # longest a replayed batch waited in the spool
    loop_errors: int = 0  # unexpected errors survived by the intake thread


@dataclass
class _Batch:
    messages: list[Message] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    # Line protocol, one text per block ("\n" between its points: `block_text`).
    texts: list[str] = field(default_factory=list)
    points: int = 0
    # Rejected messages (topic, payload, reason) not yet in the dead-letter store.
    rejects: list[tuple[str, bytes, str]] = field(default_factory=list)


class Intake:
    """Owns the write thread; `submit` is called from the MQTT network thread. `ack` is given
    each durable batch's messages at once."""

    def __init__(
        self,
        store: Store,
        spool: Spool,
        deadletters: DeadLetterStore,
        ack: Callable[[Sequence[Message]], None],
        on_durable: Callable[[list[Block]], None] | None = None,
        batch_size: int = 40000,
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
        # SimpleQueue (C): put + get ~0.2 µs against ~3 µs for queue.Queue, per message.
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._store_down_until = 0.0
        self._idle = threading.Event()

    def submit(self, message: Message) -> None:
        self._queue.put(message)

    @property
    def store_up(self) -> bool:
        return time.monotonic() >= self._store_down_until

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set and the in-memory queue is drained.

        Parses the next batch while the writer thread settles the previous one (module
        docstring). A batch that cannot be made durable is held unacknowledged and retried;
        replay goes on meanwhile, so a full spool drains as soon as InfluxDB is back. No error
        ends the loop. Returns with nothing in flight: every batch taken from the queue is
        then durable and acknowledged, or held unacknowledged (redelivered after a restart).
        """
        raise_gc_thresholds(GC_THRESHOLDS)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-write") as writer:
            self._pipeline(stop, writer)

    def _pipeline(self, stop: threading.Event, writer: ThreadPoolExecutor) -> None:
        # The batch handed to the writer (in flight, or held after it) and its answer.
        writing: tuple[_Batch, Future[tuple[bool, bool]]] | None = None
        ready: _Batch | None = None  # parsed ahead, waiting for `writing` to be settled
        while True:
            try:
                if ready is None:
                    ready = self._collect()  # while the writer works on `writing`
                if writing is not None:
                    held, outcome = writing
                    settled, failed = outcome.result()
                    if (failed or not settled) and stop.wait(self.retry_interval):
                        return  # `held` (if not settled) and `ready` stay unacknowledged
                    if not settled:
                        # Retried before anything parsed after it, so acks stay in order.
                        writing = held, writer.submit(self._settle, held)
                        continue
                    writing = None
                if not ready.messages:
                    if stop.is_set() and self._queue.empty():
                        return
                    self._idle.set()  # nothing queued, nothing in flight
                # Even an empty batch goes to the writer: its turn replays the spool when idle.
                writing, ready = (ready, writer.submit(self._settle, ready)), None
            except Exception:
                # A bug in parsing must not silently stop the intake (the writer's own errors
                # are caught in `_settle`).
                self.stats.loop_errors += 1
                log.exception("intake error; retrying in %.1fs", self.retry_interval)
                if stop.wait(self.retry_interval) and writing is None:
                    return

    def _settle(self, batch: _Batch) -> tuple[bool, bool]:
        """The writer thread's turn for one batch: make it durable, acknowledge it, replay
        some of the spool. Returns (settled, failed): settled once the batch needs nothing
        more (else it is held, unacknowledged, for a retry); failed after an unexpected error
        (the intake pauses for `retry_interval`)."""
        settled = False
        try:
            if self._make_durable(batch):
                settled = True
                self._finish(batch)
            self._replay_some()
        except Exception:
            # A bug or an unexpected library error must not silently stop the intake: a batch
            # not yet durable stays unacknowledged and is retried.
            self.stats.loop_errors += 1
            log.exception("intake error; retrying in %.1fs", self.retry_interval)
            return settled, True
        return settled, False

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued (tests and the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.is_set():
                return True
            time.sleep(0.02)
        return False

    def _collect(self) -> _Batch:
        """The next batch: messages until `batch_size` points or `flush_interval` after the
        first; empty after 0.2 s without any."""
        batch = _Batch()
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return batch
        self._idle.clear()
        deadline = time.monotonic() + self.flush_interval
        message: Message | None = first
        while message is not None:
            self._add(batch, message)
            if batch.points >= self.batch_size:
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
            block = parse_block(message.topic, message.payload)
        except PayloadError as exc:
            log.warning("dead letter on %s: %s", message.topic[:200], exc)
            batch.rejects.append((message.topic, message.payload, str(exc)))
            return
        except Exception as exc:  # a parser bug must cost one message, not the batch
            log.exception("unexpected error parsing a message on %s", message.topic[:200])
            reason = f"unexpected parser error: {type(exc).__name__}: {exc}"
            batch.rejects.append((message.topic, message.payload, reason))
            return
        self.stats.records_received += len(block)
        batch.blocks.append(block)
        batch.texts.append(block_text(block))
        batch.points += len(block)

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        """Record a rejected point; CollectorError (disk full) propagates to hold the batch."""
        log.warning("dead letter on %s: %s", topic[:200], reason)
        self.deadletters.add(topic, payload, reason)
        self.stats.dead_letters += 1

    def _record_rejects(self, batch: _Batch) -> bool:
        """Move the batch's rejected messages into the dead-letter store; False if it failed."""
        while batch.rejects:
            topic, payload, reason = batch.rejects[0]
            try:
                self.deadletters.add(topic, payload, reason)
            except CollectorError as exc:
                self.stats.spool_alarm = str(exc)
                log.error("ALARM: %s; holding %d message(s) unacknowledged",
                          exc, len(batch.messages))
                return False
            batch.rejects.pop(0)
            self.stats.dead_letters += 1
        return True

    def _make_durable(self, batch: _Batch) -> bool:
        """True once every point of the batch is in InfluxDB, the spool or the dead letters."""
        if not self._record_rejects(batch):
            return False
        if not batch.texts:
            return True
        if self.store_up and self.spool.batches == 0:
            started = time.perf_counter()
            try:
                self._write_isolating(batch.texts)
            except StoreError as exc:
                self._mark_down(exc)
            except CollectorError as exc:
                # The dead-letter store failed while isolating a poison point: retry the whole
                # batch later (writes are idempotent), acknowledge nothing now.
                self.stats.spool_alarm = str(exc)
                log.error("ALARM: %s; holding the batch unacknowledged", exc)
                return False
            else:
                self.stats.write_seconds.observe(time.perf_counter() - started)
                self.stats.records_stored += batch.points
                return True
        try:
            self.spool.push(batch.texts, batch.points)
        except CollectorError as exc:
            self.stats.spool_alarm = str(exc)
            if self.store_up and self._write_past_full_spool(batch):
                return True
            log.error("ALARM: cannot spool %d points, holding them unacknowledged: %s",
                      batch.points, exc)
            return False
        self.stats.records_spooled += batch.points
        self.stats.spool_peak = max(self.stats.spool_peak, self.spool.depth)
        if self.spool.fill >= SPOOL_ALARM_FILL:
            self.stats.spool_alarm = f"spool at {self.spool.fill:.0%} of its limit"
            log.error("ALARM: %s (InfluxDB down?)", self.stats.spool_alarm)
        return True

    def _write_past_full_spool(self, batch: _Batch) -> bool:
        """InfluxDB is back but the spool cannot take more: write live data straight away,
        ahead of the spooled backlog (points are keyed by time, so order does not matter)."""
        try:
            self._write_isolating(batch.texts)
        except StoreError as exc:
            self._mark_down(exc)
            return False
        except CollectorError:
            return False
        self.stats.records_stored += batch.points
        return True

    def _write_isolating(self, lines: Sequence[str]) -> None:
        """Write line-protocol texts (one point or several on separate lines); on a 4xx split
        them until the rejected points are isolated."""
        try:
            self.store.write_lines(lines)
        except StoreError as exc:
            if exc.retryable:
                raise
            if len(lines) == 1:
                if "\n" in lines[0]:  # a message's points: split them
                    self._write_isolating(lines[0].split("\n"))
                else:
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
        self._ack(batch.messages)  # in one write (MqttConnection.ack_all)
        if batch.blocks and self._on_durable is not None:
            self._on_durable(batch.blocks)

    def _replay_some(self, budget_s: float = 0.25) -> None:
        """Move spooled batches to InfluxDB, oldest first, for up to `budget_s` between live
        batches: live messages wait at most that long, and the spool drains at several times
        the live rate (a fixed 4 batches per live batch drained at only ~3x)."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            if self.spool.batches == 0 or not self.store_up:
                return
            head = self.spool.peek(self.batch_size)
            if head is None:
                return
            try:
                self._write_isolating(head.lines)
            except StoreError as exc:
                self._mark_down(exc)
                return
            except CollectorError as exc:
                self.stats.spool_alarm = str(exc)
                log.error("ALARM: %s; spooled batch kept for a later replay", exc)
                return
            self.spool.remove(head.id)
            lag = max(0.0, time.time() - head.spooled_at)
            self.stats.replay_lag_max_s = max(self.stats.replay_lag_max_s, lag)
            self.stats.records_replayed += len(head.lines)
            self.stats.records_stored += len(head.lines)
            if self.spool.batches == 0:
                log.info("spool drained")
                self.stats.spool_alarm = ""


def raise_gc_thresholds(thresholds: tuple[int, int, int]) -> None:
    """Raise the process's cyclic-GC thresholds to at least `thresholds` (never lower them:
    whoever set them higher knew why)."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(now, wanted) for now, wanted in zip(current, thresholds,
                                                               strict=True)))
