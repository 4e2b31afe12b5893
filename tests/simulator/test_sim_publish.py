"""Publishing against the real Mosquitto of the test session."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest

from collector.settings import MqttSettings
from simulator.errors import SimulatorError
from simulator.run import SimulateOptions, generate, run_simulation

pytestmark = pytest.mark.integration


class Listener:
    """Subscribes to one cluster's data topics and keeps every payload received."""

    def __init__(self, host: str, port: int, cluster: str) -> None:
        self.payloads: list[bytes] = []
        self._ready = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self._client.on_connect = lambda c, *_: c.subscribe(f"quantrac/v1/{cluster}/#", qos=1)
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = lambda _c, _u, message: self.payloads.append(message.payload)
        self._client.connect(host, port)
        self._client.loop_start()
        assert self._ready.wait(10)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.payloads) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def listener(stack, unique_id):
    client = Listener(stack.mqtt_host, stack.mqtt_port, unique_id)
    yield client
    client.close()


def test_backfill_publishes_every_message_and_writes_truth(
    sim, stack, unique_id, listener, tmp_path
):
    plant = sim.kim_bai(id=unique_id, cluster=unique_id)
    truth = tmp_path / "truth.json"
    options = sim.options(
        scenario="link-outage,duplicates,malformed", duration=timedelta(hours=3), truth=truth
    )
    lines: list[str] = []
    summary = run_simulation([plant], MqttSettings(url=stack.mqtt_url), options, lines.append)
    expected = list(generate([plant], sim.options(
        scenario="link-outage,duplicates,malformed", duration=timedelta(hours=3)
    )))  # fmt: skip
    assert summary.messages == len(expected)
    assert summary.records == sum(m.records for m in expected)
    assert summary.malformed == 7
    assert summary.duplicates == sum(m.kind == "duplicate" for m in expected) > 0
    assert not summary.stopped
    listener.wait_for(summary.messages)
    assert sorted(listener.payloads) == sorted(m.payload for m in expected)
    doc = json.loads(truth.read_text())
    assert doc["published"] == {
        "messages": summary.messages,
        "records": summary.records,
        "malformed": summary.malformed,
        "duplicates": summary.duplicates,
    }


def test_accelerated_run_is_paced_and_stoppable(sim, stack, unique_id):
    plant = sim.kim_bai(id=unique_id, cluster=unique_id)
    mqtt_settings = MqttSettings(url=stack.mqtt_url)
    paced = SimulateOptions(start=sim.MONDAY, duration=timedelta(minutes=25), speed=3000.0)
    summary = run_simulation([plant], mqtt_settings, paced)
    assert summary.seconds >= 0.35  # 4 gaps of 5 min / 3000
    assert summary.records == 15

    stop = threading.Event()
    slow = SimulateOptions(start=sim.MONDAY, duration=timedelta(hours=6), speed=1.0)
    result: list = []
    worker = threading.Thread(
        target=lambda: result.append(run_simulation([plant], mqtt_settings, slow, stop=stop))
    )
    worker.start()
    time.sleep(0.3)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert result[0].stopped
    assert result[0].records == 3  # only the first step went out


def test_unreachable_broker_is_one_clear_error(sim):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{port}")
    with pytest.raises(SimulatorError, match=f"cannot connect to MQTT broker at 127.0.0.1:{port}"):
        run_simulation([sim.kim_bai()], settings, sim.options())


def test_real_time_run_stamps_now_and_stops(sim, stack, unique_id):
    plant = sim.kim_bai(id=unique_id, cluster=unique_id)
    stop = threading.Event()
    result: list = []
    options = SimulateOptions(duration=timedelta(hours=1))
    worker = threading.Thread(
        target=lambda: result.append(
            run_simulation([plant], MqttSettings(url=stack.mqtt_url), options, stop=stop)
        )
    )
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert result[0].stopped and result[0].records == 3


def test_backfill_reports_progress(sim, stack, unique_id, monkeypatch):
    import simulator.run

    monkeypatch.setattr(simulator.run, "PROGRESS_EVERY_S", 0.0)
    plant = sim.kim_bai(id=unique_id, cluster=unique_id)
    lines: list[str] = []
    options = sim.options(duration=timedelta(hours=1))
    run_simulation([plant], MqttSettings(url=stack.mqtt_url), options, lines.append)
    assert len(lines) == 36
    assert lines[-1].startswith("simulate: 36 messages, 36 records")
