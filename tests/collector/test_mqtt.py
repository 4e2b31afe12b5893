"""collector.mqtt's lean paho client: it decodes a PUBLISH as paho does, the paho internals it
relies on keep their shape, batched PUBACKs reach the broker (acknowledged messages are not
redelivered to the persistent session, unacknowledged ones are)."""

from __future__ import annotations

import inspect
import socket
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.mqtt import (
    MAIN_SUBSCRIPTION_ID,
    WATCH_SUBSCRIPTION_ID,
    Message,
    MqttConnection,
    _BufferedSocket,
    _LeanClient,
)
from collector.settings import MqttSettings
from tests.conftest import wait_for


def test_the_paho_internals_the_lean_client_uses_keep_their_shape() -> None:
    """If paho changes these, the lean client would silently misbehave: fail here instead."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    assert {"command", "packet"} <= set(client._in_packet)
    assert list(inspect.signature(client._packet_queue).parameters)[:4] == [
        "command", "packet", "mid", "qos"]
    assert callable(client._create_socket) and callable(client._handle_publish)
    assert mqtt.PUBACK == 0x40


def _publish_packet(topic: bytes, payload: bytes, qos: int, mid: int,
                    properties: bytes | None) -> bytes:
    """A PUBLISH's variable header and payload (what paho keeps in _in_packet['packet'])."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    if properties is not None:
        body += properties
    return body + payload


def _subscription_ids(*ids: int) -> bytes:
    props = Properties(PacketTypes.PUBLISH)
    props.SubscriptionIdentifier = list(ids)
    return bytes(props.pack())


PACKETS = [
    # (protocol, qos, topic, properties, payload)
    (mqtt.MQTTv5, 1, b"quantrac/v1/kb/kim-bai/outlet/data", b"\x00", b'{"ts":1}'),
    (mqtt.MQTTv5, 0, b"quantrac/v1/kb/kim-bai/outlet/data", b"\x00", b""),
    (mqtt.MQTTv5, 1, b"a/b", _subscription_ids(WATCH_SUBSCRIPTION_ID), b"x" * 300),
    (mqtt.MQTTv5, 1, b"a/b", _subscription_ids(MAIN_SUBSCRIPTION_ID, WATCH_SUBSCRIPTION_ID),
     b"y"),
    (mqtt.MQTTv311, 1, b"quantrac/v1/kb/kim-bai/outlet/data", None, b"[1,2]"),
    (mqtt.MQTTv311, 0, "tr\u00e2m/\u0111o".encode(), None, b"\xff\xfe"),
]


def _decode(client: mqtt.Client, header: int, packet: bytes) -> list[tuple[Any, ...]]:
    """What the client hands on for one received PUBLISH: (topic, payload, mid, qos,
    subscription ids)."""
    got: list[tuple[Any, ...]] = []

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        got.append((msg.topic, bytes(msg.payload), msg.mid, msg.qos,
                    getattr(msg.properties, "SubscriptionIdentifier", None)))

    def deliver(topic: str, payload: bytes, mid: int, qos: int, props: Any) -> None:
        got.append((topic, payload, mid, qos, getattr(props, "SubscriptionIdentifier", None)))

    client.on_message = on_message
    if isinstance(client, _LeanClient):
        client.deliver = deliver
    client._in_packet["command"] = header
    client._in_packet["packet"] = packet
    client._handle_publish()
    return got


@pytest.mark.parametrize(("protocol", "qos", "topic", "props", "payload"), PACKETS)
def test_lean_publish_decoding_equals_pahos(protocol: int, qos: int, topic: bytes,
                                            props: bytes | None, payload: bytes) -> None:
    header = 0x30 | (qos << 1)
    packet = _publish_packet(topic, payload, qos, 4321, props)
    plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    lean = _LeanClient(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    expected = _decode(plain, header, packet)
    assert len(expected) == 1
    assert _decode(lean, header, packet) == expected


def test_odd_packets_go_through_pahos_own_decoding() -> None:
    """QoS 2, an empty topic, a truncated packet: the lean path steps aside, paho decides."""
    lean = _LeanClient(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                       manual_ack=True)
    seen: list[str] = []
    lean.deliver = lambda *args: seen.append("lean")
    lean.on_message = lambda *args: seen.append("paho")
    lean._in_packet["command"] = 0x34  # QoS 2: paho keeps it until PUBREL
    lean._in_packet["packet"] = _publish_packet(b"a/b", b"p", 2, 7, b"\x00")
    lean._handle_publish()
    assert 7 in lean._in_messages and seen == []
    lean._in_packet["command"] = 0x32  # an empty topic (a topic alias): paho's
    lean._in_packet["packet"] = _publish_packet(b"", b"p", 1, 8, b"\x00")
    lean._handle_publish()
    assert seen == ["paho"]
    lean._in_packet["command"] = 0x32
    lean._in_packet["packet"] = b"\x00\x03a/"  # truncated
    with pytest.raises(Exception):  # noqa: B017 (paho's own error for a malformed packet)
        lean._handle_publish()
    assert seen == ["paho"]


def test_the_buffered_socket_reads_ahead_and_says_what_it_holds() -> None:
    left, right = socket.socketpair()
    try:
        buffered = _BufferedSocket(left)
        right.sendall(b"\x32\x05abcdeXYZ")
        assert buffered.recv(1) == b"\x32"
        assert buffered.pending() == 9  # one system call read it all
        assert buffered.recv(1) == b"\x05"
        assert buffered.recv(5) == b"abcde"
        assert buffered.recv(10) == b"XYZ"  # short, as a socket's recv may be
        assert buffered.pending() == 0
        left.setblocking(False)
        with pytest.raises(BlockingIOError):
            buffered.recv(1)
        assert buffered.fileno() == left.fileno()
        right.close()
        assert buffered.recv(1) == b""  # the peer closed
    finally:
        left.close()
        right.close()


@pytest.mark.integration
def test_batched_acks_reach_the_broker(stack: Any, publisher: Any) -> None:
    """Acknowledged (in one write) → not redelivered after a reconnect; left unacknowledged
    → redelivered (with their packet ids, acknowledged on the new connection)."""
    plant = f"p{uuid.uuid4().hex[:8]}"
    topic = f"quantrac/v1/{plant}/{plant}/outlet/data"
    settings = MqttSettings(url=stack.mqtt_url, client_id=f"ack-{plant}")
    received: list[Message] = []
    lock = threading.Lock()

    def on_message(message: Message) -> None:
        with lock:
            received.append(message)

    connection = MqttConnection(settings, [f"quantrac/v1/{plant}/+/+/data"], on_message)
    connection.start()
    try:
        for i in range(40):
            publisher.publish(topic, f'{{"n":{i}}}'.encode())
        assert wait_for(lambda: len(received) == 40)
        first = list(received)
        connection.ack_all(first[:30])  # 30 acknowledged, 10 not
    finally:
        connection.stop()
    received.clear()
    connection = MqttConnection(settings, [f"quantrac/v1/{plant}/+/+/data"], on_message)
    connection.start()
    try:
        assert wait_for(lambda: len(received) == 10)
        assert sorted(m.payload for m in received) == sorted(m.payload for m in first[30:])
        connection.ack_all(list(received))
    finally:
        connection.stop()
    received.clear()
    connection = MqttConnection(settings, [f"quantrac/v1/{plant}/+/+/data"], on_message)
    connection.start()
    try:
        publisher.publish(topic, b'{"n":"last"}')
        assert wait_for(lambda: len(received) >= 1)
        assert [m.payload for m in received] == [b'{"n":"last"}']  # nothing redelivered
        connection.ack_all(list(received))
    finally:
        connection.stop()
