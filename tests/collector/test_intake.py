"""Intake against the real broker and InfluxDB: stored == published, dead letters, redelivery,
and the spool while InfluxDB is unreachable."""

from __future__ import annotations

import gc
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from collector.deadletter import DeadLetterStore
from collector.influx1 import InfluxV1Store
from collector.intake import Intake, raise_gc_thresholds
from collector.mqtt import MqttConnection
from collector.payload import encode_message, encode_record
from collector.settings import InfluxSettings, MqttSettings
from collector.spool import Spool
from quantrac.stack import free_port
from tests.conftest import wait_for

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Running:
    def __init__(self, stack, db, state_dir, plant, influx_url=None):
        self.store = InfluxV1Store(InfluxSettings(url=influx_url or stack.influx_url, database=db))
        self.spool = Spool(state_dir, 50_000_000)
        self.dead = DeadLetterStore(state_dir)
        self.stop = threading.Event()
        settings = MqttSettings(url=stack.mqtt_url, client_id=f"c-{uuid.uuid4().hex[:8]}")
        self.mqtt = MqttConnection(
            settings, [f"quantrac/v1/{plant}/{plant}/+/data"], lambda m: self.intake.submit(m)
        )
        self.intake = Intake(self.store, self.spool, self.dead, ack=self.mqtt.ack_all,
                             retry_interval=0.2)
        self.thread = threading.Thread(target=self.intake.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.mqtt.start()

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.mqtt.stop()


def _records(n, start=T0, cod=50.0):
    return [encode_record(start + timedelta(minutes=5 * i), {"cod": cod + i % 7, "ph": 7.1},
                          seq=i) for i in range(n)]


@pytest.fixture
def running(stack, influx_db, tmp_path, unique_id):
    run = Running(stack, influx_db, tmp_path, unique_id)
    yield run
    run.close()


def test_published_records_are_all_stored(running, publisher, unique_id):
    topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
    records = _records(300)
    for record in records[:100]:
        publisher.publish(topic, encode_message([record]))
    publisher.publish(topic, encode_message(records[100:]))  # one backfill array of 200
    assert wait_for(lambda: running.store.count(unique_id) == 300)
    frame = running.store.read_frame(unique_id, T0, T0 + timedelta(days=2))
    assert len(frame) == 300
    assert frame["cod"].iloc[3] == 53.0
    assert running.dead.count() == 0


def test_redelivered_record_is_not_double_stored(running, publisher, unique_id):
    topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
    payload = encode_message(_records(5))
    publisher.publish(topic, payload)
    publisher.publish(topic, payload)
    assert wait_for(lambda: running.intake.stats.records_received == 10)
    assert wait_for(lambda: running.store.count(unique_id) == 5)
    running.intake.wait_idle(5)
    assert running.store.count(unique_id) == 5


def test_malformed_messages_go_to_dead_letters_and_intake_goes_on(running, publisher, unique_id):
    topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
    bad = {
        b"{not json": "bad JSON",
        json.dumps({"ts": "2026-11-01T00:00:00+07:00", "values": {"cod": "x"}}).encode():
            "non-numeric",
        b'{"ts":"2026-11-01T00:00:00+07:00","values":{"cod":NaN}}': "NaN",
        json.dumps({"ts": "nope", "values": {"cod": 1}}).encode(): "not ISO 8601",
    }
    for payload in bad:
        publisher.publish(topic, payload)
    publisher.publish(topic, encode_message(_records(3)))
    assert wait_for(lambda: running.dead.count() == len(bad))
    assert wait_for(lambda: running.store.count(unique_id) == 3)
    letters = running.dead.latest()
    assert {letter.topic for letter in letters} == {topic}
    reasons = " | ".join(letter.reason for letter in letters)
    for expected in bad.values():
        assert expected in reasons


def test_spool_holds_data_while_influx_is_unreachable_then_replays(
    stack, influx_db, tmp_path, publisher, unique_id
):
    dead_url = f"http://127.0.0.1:{free_port()}"
    run = Running(stack, influx_db, tmp_path, unique_id, influx_url=dead_url)
    try:
        topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
        for record in _records(50):
            publisher.publish(topic, encode_message([record]))
        assert wait_for(lambda: run.spool.depth == 50), run.spool.depth
        assert run.intake.stats.records_stored == 0
        # InfluxDB "comes back": point the store at the live server.
        run.intake.store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=influx_db))
        assert wait_for(lambda: run.spool.depth == 0)
        assert wait_for(lambda: run.intake.store.count(unique_id) == 50)
    finally:
        run.close()


def test_gc_thresholds_are_raised_never_lowered() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        raise_gc_thresholds((10_000, 50, 5))
        assert gc.get_threshold() == (10_000, 50, 10)
        raise_gc_thresholds((500, 5, 5))
        assert gc.get_threshold() == (10_000, 50, 10)
    finally:
        gc.set_threshold(*saved)


def test_a_large_write_goes_as_two_requests_and_fails_as_one(stack, influx_db) -> None:
    """From PARALLEL_WRITE_BYTES on, the v1 store posts two halves at once (real influxd):
    every point stored; a rejected point in one half fails the write as not retryable (the
    intake then isolates it); an unreachable server fails it as retryable."""
    from collector.errors import StoreError
    from collector.influx1 import PARALLEL_WRITE_BYTES

    store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=influx_db))
    base = 1_790_000_000_000_000_000
    texts = ["\n".join(f"reading,cluster=kb,plant=p{b},station=outlet cod={k}.5 {base + k}"
                       for k in range(100)) for b in range(200)]
    assert sum(map(len, texts)) >= PARALLEL_WRITE_BYTES
    try:
        store.write_lines(texts)
        assert store._side is not None  # the helper thread took the second half
        counts = store.record_counts([f"p{b}" for b in range(200)],
                                     datetime(2026, 1, 1, tzinfo=UTC),
                                     datetime(2027, 1, 1, tzinfo=UTC))
        assert sum(counts.values()) == 20_000
        poison = f"reading,plant=x cod=\"text\" {base + 1}"  # a string where cod is a float
        poisoned = [*texts[:150], texts[150] + "\n" + poison, *texts[151:]]
        with pytest.raises(StoreError) as rejected:
            store.write_lines(poisoned)
        assert not rejected.value.retryable
    finally:
        store.close()
    dead = InfluxV1Store(InfluxSettings(url=f"http://127.0.0.1:{free_port()}",
                                        database=influx_db))
    with pytest.raises(StoreError) as down:
        dead.write_lines(texts)
    assert down.value.retryable
    dead.close()
