"""Session fixtures: a real Mosquitto and a real influxd on free loopback ports.

They are started once per test session in temporary data dirs and stopped after; every test
gets its own InfluxDB database (and should use its own topic/cluster ids).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from quantrac.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(scope="session")
def _db_counter() -> Iterator[itertools.count[int]]:
    yield itertools.count(1)


@pytest.fixture
def influx_db(stack: LocalStack, _db_counter: itertools.count[int]) -> str:
    """A fresh, empty InfluxDB database for this test."""
    name = f"t{next(_db_counter)}_{uuid.uuid4().hex[:6]}"
    stack.create_database(name)
    return name


@pytest.fixture
def unique_id() -> str:
    """A fresh id usable as cluster/plant id, so topics never collide between tests."""
    return f"t{uuid.uuid4().hex[:10]}"


class Publisher:
    """A plain paho QoS 1 publisher for tests (stations stand-in)."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.max_inflight_messages_set(1000)
        self._client.connect(host, port)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class Subscriber:
    """Collects messages on a topic filter (e.g. the alerts topic)."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        import threading

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self._ready = threading.Event()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        client.on_subscribe = lambda *_a: self._ready.set()
        client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        client.connect(host, port)
        client.loop_start()
        self._client = client
        self._ready.wait(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def publisher(stack: LocalStack) -> Iterator[Publisher]:
    pub = Publisher(stack.mqtt_host, stack.mqtt_port)
    yield pub
    pub.close()


@pytest.fixture
def subscribe(stack: LocalStack) -> Iterator[object]:
    subs: list[Subscriber] = []

    def make(topic: str) -> Subscriber:
        sub = Subscriber(stack.mqtt_host, stack.mqtt_port, topic)
        subs.append(sub)
        return sub

    yield make
    for sub in subs:
        sub.close()


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05) -> bool:
    """Poll until predicate() is true (integration tests)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
