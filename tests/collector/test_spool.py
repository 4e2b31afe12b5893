"""The durable path without servers: spool FIFO and bounds, disk full, state-dir permissions,
and the intake's ack discipline (ack only once durable) against a scripted store."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.deadletter import DeadLetterStore
from collector.errors import CollectorError, StoreError
from collector.intake import Intake
from collector.mqtt import Message
from collector.payload import encode_message, encode_record
from collector.spool import Spool, SpoolFull
from collector.statedb import prepare_state_dir
from collector.store import MemoryStore
from tests.conftest import wait_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOPIC = "quantrac/v1/kb/kb/outlet/data"


class ScriptedStore:
    """A store whose availability the test switches; keeps points keyed like InfluxDB does."""

    def __init__(self) -> None:
        self.up = True
        self.points: dict[str, str] = {}  # series+time -> line (a rewrite overwrites)
        self.writes = 0
        self.poison = "POISON"

    def write_lines(self, lines: list[str]) -> None:
        self.writes += 1
        if not self.up:
            raise StoreError("InfluxDB unreachable (scripted)")
        if any(self.poison in line for line in lines):
            raise StoreError("partial write: field type conflict (scripted)", retryable=False)
        for line in "\n".join(lines).split("\n"):  # an item may hold several points
            series, _fields, ts = line.rsplit(" ", 2)
            self.points[f"{series} {ts}"] = line


def _message(i: int, mid: int | None = None, cod: float = 50.0) -> Message:
    record = encode_record(T0 + timedelta(minutes=5 * i), {"cod": cod, "ph": 7.0}, seq=i)
    return Message(TOPIC, encode_message([record]), mid if mid is not None else i + 1, 1, 1)


class Harness:
    def __init__(self, state: Path, max_bytes: int = 10_000_000) -> None:
        self.store = ScriptedStore()
        self.spool = Spool(state, max_bytes)
        self.dead = DeadLetterStore(state)
        self.acked: list[int] = []
        self.durable: list[int] = []
        self.intake = Intake(self.store, self.spool, self.dead,  # type: ignore[arg-type]
                             ack=lambda ms: self.acked.extend(m.mid for m in ms),
                             on_durable=lambda blocks: self.durable.extend(
                                 seq for block in blocks for seq in block.seq),
                             batch_size=10, flush_interval=0.01, retry_interval=0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.intake.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.spool.close()
        self.dead.close()


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path / "state")
    yield h
    h.close()


# -- spool ---------------------------------------------------------------------------------
def test_spool_is_fifo_and_survives_reopen(tmp_path):
    spool = Spool(tmp_path, 1_000_000)
    spool.push(["a 1", "b 2"])
    spool.push(["c 3"])
    spool.close()
    spool = Spool(tmp_path, 1_000_000)
    assert (spool.batches, spool.depth) == (2, 3)
    head = spool.peek()
    assert head is not None and head.lines == ["a 1", "b 2"] and head.spooled_at > 0
    spool.remove(head.id)
    assert spool.peek().lines == ["c 3"]
    assert (spool.batches, spool.depth) == (1, 1)


def test_spool_replays_small_batches_together_in_order(tmp_path):
    """peek(n): the oldest batches as one, as many as fit in n points (at least one);
    remove(id) drops them all, and the counts follow."""
    spool = Spool(tmp_path, 1_000_000)
    spool.push(["a 1", "b 2"])
    spool.push(["c 3"])
    spool.push(["d 4", "e 5", "f 6"])
    head = spool.peek(4)
    assert head is not None and head.lines == ["a 1", "b 2", "c 3"]
    spool.remove(head.id)
    assert (spool.batches, spool.depth) == (1, 3)
    head = spool.peek(1)  # larger than asked: still the whole oldest batch
    assert head is not None and head.lines == ["d 4", "e 5", "f 6"]
    spool.remove(head.id)
    assert (spool.batches, spool.depth, spool.peek(10)) == (0, 0, None)
    assert spool.fill == 0


def test_spool_refuses_past_its_limit_and_keeps_counts(tmp_path):
    spool = Spool(tmp_path, 100)
    spool.push(["x" * 60])
    with pytest.raises(SpoolFull, match="spool full"):
        spool.push(["y" * 60])
    assert (spool.batches, spool.depth) == (1, 1)
    assert spool.fill == pytest.approx(0.6)


class _FullDisk:
    """Stands in for the sqlite connection of a spool on a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(sql, *args)

    def close(self) -> None:
        self.real.close()


def test_disk_full_is_a_clear_error_and_leaves_the_spool_intact(tmp_path):
    spool = Spool(tmp_path, 1_000_000)
    spool.push(["a 1"])
    spool._conn = _FullDisk(spool._conn)  # type: ignore[assignment]
    with pytest.raises(CollectorError, match="database or disk is full"):
        spool.push(["b 2"])
    assert (spool.batches, spool.depth) == (1, 1)
    spool._conn = spool._conn.real  # type: ignore[attr-defined]
    spool.close()
    reopened = Spool(tmp_path, 1_000_000)
    assert reopened.peek().lines == ["a 1"]
    assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_state_dir_and_databases_are_private(tmp_path):
    state = tmp_path / "deep" / "state"
    prepare_state_dir(state)
    Spool(state, 1000).close()
    DeadLetterStore(state).close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("spool.sqlite", "deadletters.sqlite"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    # An existing, too-open directory is tightened.
    state.chmod(0o755)
    prepare_state_dir(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


# -- intake ack discipline -----------------------------------------------------------------
def test_acks_only_after_write_and_in_order(harness):
    for i in range(25):
        harness.intake.submit(_message(i))
    assert wait_for(lambda: len(harness.acked) == 25, timeout=5)
    assert len(harness.store.points) == 25
    assert sorted(harness.durable) == list(range(25))


def test_store_down_spools_then_acks_then_replays_in_order(harness):
    harness.store.up = False
    for i in range(30):
        harness.intake.submit(_message(i))
    assert wait_for(lambda: len(harness.acked) == 30, timeout=5)
    assert harness.spool.depth == 30 and not harness.store.points
    assert harness.intake.stats.spool_peak == 30
    harness.store.up = True
    for i in range(30, 40):  # new data keeps flowing during the replay
        harness.intake.submit(_message(i))
    assert wait_for(lambda: harness.spool.depth == 0 and len(harness.store.points) == 40, 5)
    assert wait_for(lambda: len(harness.acked) == 40, timeout=5)
    assert harness.intake.stats.records_replayed >= 30
    assert harness.intake.stats.replay_lag_max_s > 0


def test_full_spool_holds_messages_unacked_with_alarm_then_drains(tmp_path, caplog):
    h = Harness(tmp_path, max_bytes=1800)  # about two batches of ten points
    try:
        h.store.up = False
        for i in range(40):
            h.intake.submit(_message(i))
        assert wait_for(lambda: "spool full" in h.intake.stats.spool_alarm, timeout=5)
        held = 40 - len(h.acked)
        assert held > 0, "a full spool must stop acknowledging"
        alarms = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert any(m.startswith("ALARM: spool at 8") for m in alarms), alarms
        assert any("spool full (1.6 kB of 1.8 kB)" in m for m in alarms), alarms
        h.store.up = True  # InfluxDB back: the spool drains and the held batches go through
        assert wait_for(lambda: len(h.acked) == 40, timeout=10)
        assert wait_for(lambda: h.spool.depth == 0 and len(h.store.points) == 40, 5)
    finally:
        h.close()


def test_disk_full_holds_messages_unacked_without_loss(tmp_path):
    h = Harness(tmp_path)
    try:
        h.store.up = False
        real = h.spool._conn
        h.spool._conn = _FullDisk(real)  # type: ignore[assignment]
        for i in range(5):
            h.intake.submit(_message(i))
        assert wait_for(lambda: "disk is full" in h.intake.stats.spool_alarm, timeout=5)
        assert h.acked == [] and h.durable == []
        h.spool._conn = real  # space freed
        assert wait_for(lambda: len(h.acked) == 5, timeout=5)
        h.store.up = True
        assert wait_for(lambda: len(h.store.points) == 5, timeout=5)
        assert h.intake.stats.loop_errors == 0
    finally:
        h.close()


def test_poison_point_is_isolated_into_dead_letters(harness):
    harness.store.poison = "cod=999.5"
    for i in range(9):
        harness.intake.submit(_message(i, cod=999.5 if i == 4 else 50.0))
    assert wait_for(lambda: len(harness.acked) == 9, timeout=5)
    assert len(harness.store.points) == 8
    letters = harness.dead.latest()
    assert [(d.topic, "field type conflict" in d.reason) for d in letters] == [
        ("influxdb-rejected", True)
    ]


def test_poison_point_inside_an_array_is_isolated_alone(harness):
    """An array's points travel as one text; a rejected write splits it down to the point."""
    harness.store.poison = "cod=999.5"
    records = [encode_record(T0 + timedelta(minutes=k), {"cod": 999.5 if k == 6 else 50.0 + k})
               for k in range(10)]
    harness.intake.submit(Message(TOPIC, encode_message(records), 1, 1, 1))
    harness.intake.submit(_message(20))
    assert wait_for(lambda: len(harness.acked) == 2, timeout=5)
    assert len(harness.store.points) == 10
    letters = harness.dead.latest()
    assert len(letters) == 1 and letters[0].payload.decode().count("\n") == 0
    assert "cod=999.5" in letters[0].payload.decode()


def test_dead_letter_store_failure_holds_the_message(harness, monkeypatch):
    calls = {"n": 0}
    real_add = harness.dead.add

    def failing_add(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise CollectorError("cannot record dead letter: database or disk is full")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(harness.dead, "add", failing_add)
    harness.intake.submit(Message(TOPIC, b"{not json", 77, 1, 1))
    assert wait_for(lambda: calls["n"] >= 3 and harness.acked == [77], timeout=5)
    assert harness.dead.count() == 1
    assert harness.thread.is_alive()


def test_intake_survives_an_unexpected_error(harness, monkeypatch):
    boom = {"n": 0}
    real_write = harness.store.write_lines

    def flaky(lines):
        boom["n"] += 1
        if boom["n"] == 1:
            raise RuntimeError("unexpected library bug")
        real_write(lines)

    monkeypatch.setattr(harness.store, "write_lines", flaky)
    harness.intake.submit(_message(0))
    assert wait_for(lambda: harness.acked == [1], timeout=5)
    assert harness.intake.stats.loop_errors == 1
    assert harness.thread.is_alive()


# -- intake pipeline: the next batch is parsed while the previous one is written -----------
class GatedStore(MemoryStore):
    """A MemoryStore whose writes wait for `gate`: a slow InfluxDB the test controls."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.in_flight = 0  # writes entered and not yet returned

    def write_lines(self, lines: Sequence[str]) -> None:
        self.in_flight += 1
        try:
            self.gate.wait(10)
            super().write_lines(lines)
        finally:
            self.in_flight -= 1


def _array(i: int, n: int = 10) -> Message:
    """Message `i` (mid i + 1): n records, one batch of its own at batch_size=n."""
    records = [encode_record(T0 + timedelta(hours=i, minutes=5 * k), {"cod": 50.0 + k}, seq=k)
               for k in range(n)]
    return Message(TOPIC, encode_message(records), i + 1, 1, 1)


class Pipeline:
    """An intake on a store the test controls; every ack logs the points durable by then."""

    def __init__(self, state: Path, store: MemoryStore, max_bytes: int = 10_000_000) -> None:
        self.store = store
        self.spool = Spool(state, max_bytes)
        self.dead = DeadLetterStore(state)
        self.acks: list[tuple[list[int], int]] = []  # (mids, points in the store then)
        self.intake = Intake(store, self.spool, self.dead, ack=self._ack, batch_size=10,
                             flush_interval=0.01, retry_interval=0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.intake.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def _ack(self, messages: Sequence[Message]) -> None:
        self.acks.append(([m.mid for m in messages], len(self.store.lines)))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.spool.close()
        self.dead.close()


def test_next_batch_is_parsed_while_a_write_is_in_flight_and_acks_wait_for_it(tmp_path):
    store = GatedStore()
    p = Pipeline(tmp_path, store)
    try:
        p.intake.submit(_array(0))
        assert wait_for(lambda: store.in_flight == 1, timeout=5)
        p.intake.submit(_array(1))
        p.intake.submit(_array(2))
        # Batch 2 is parsed while batch 1's write waits; batch 3 stays queued (one ahead).
        assert wait_for(lambda: p.intake.stats.records_received == 20, timeout=5)
        time.sleep(0.2)
        assert (p.intake.stats.messages, store.in_flight, p.acks) == (2, 1, [])
        assert not p.intake.wait_idle(0.1)
        store.gate.set()
        assert wait_for(lambda: len(p.acks) == 3, timeout=5)
        # In batch order, each only once its points (and all before) were in the store.
        assert p.acks == [([1], 10), ([2], 20), ([3], 30)]
        assert p.intake.wait_idle(5)
        assert p.intake.stats.records_stored == 30
    finally:
        p.close()
    assert not p.thread.is_alive()


def test_held_batch_stays_ahead_of_the_one_parsed_after_it(tmp_path):
    store = MemoryStore()
    store.up = False
    p = Pipeline(tmp_path, store, max_bytes=100)  # InfluxDB down, spool full: hold
    try:
        p.intake.submit(_array(0))
        p.intake.submit(_array(1))
        assert wait_for(lambda: "spool full" in p.intake.stats.spool_alarm, timeout=5)
        assert wait_for(lambda: p.intake.stats.records_received == 20, timeout=5)
        time.sleep(0.2)  # several retries of the held batch
        assert p.acks == []
        store.up = True  # written past the full spool: the held batch first
        assert wait_for(lambda: len(p.acks) == 2, timeout=5)
        assert p.acks == [([1], 10), ([2], 20)]
    finally:
        p.close()


def test_stop_while_a_batch_is_held_returns_with_nothing_acknowledged(tmp_path):
    store = MemoryStore()
    store.up = False
    p = Pipeline(tmp_path, store, max_bytes=100)
    p.intake.submit(_array(0))
    p.intake.submit(_array(1))
    assert wait_for(lambda: p.intake.stats.records_received == 20, timeout=5)
    p.stop.set()
    p.thread.join(5)
    assert not p.thread.is_alive()
    assert p.acks == [] and store.lines == []
    p.spool.close()
    p.dead.close()


def test_remove_falls_back_to_one_batch_per_delete_when_the_disk_refuses_a_big_one(tmp_path):
    """A nearly full disk refused one DELETE of many replayed batches (its WAL pages), every
    retry, forever; they are then removed one per delete, and the counters stay exact."""
    spool = Spool(tmp_path, 10_000_000)
    for k in range(4):
        spool.push([f"a{k} 1", f"b{k} 2"])

    class RefusingBigDeletes:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql.startswith("DELETE FROM spool WHERE id <= ?"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.conn.execute(sql, *args)

        def close(self) -> None:
            self.conn.close()

    spool._conn = RefusingBigDeletes(spool._conn)  # type: ignore[assignment]
    head = spool.peek(6)
    assert head is not None and len(head.lines) == 6
    spool.remove(head.id)
    assert (spool.batches, spool.depth) == (1, 2)
    assert spool.peek().lines == ["a3 1", "b3 2"]
    spool.close()
