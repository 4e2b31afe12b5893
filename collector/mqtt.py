"""The collector's MQTT adapter (the only module that imports paho).

QoS 1, MQTT 5 persistent session (clean_start=False + session expiry) under a fixed client id,
manual acknowledgements: a PUBACK goes out only when the service says the message is durable.
paho's receive path is trimmed for the data stream (`_LeanClient`; docs/performance.md).
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.errors import CollectorError
from collector.settings import MqttSettings


class Message(NamedTuple):
    """A received message and what is needed to acknowledge it later.

    A NamedTuple, not a frozen dataclass: one is made per MQTT message on paho's network
    thread, and a frozen dataclass's __init__ cost 4x as much (~1.9 vs 0.46 µs)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    watch: bool = False  # delivered through a watch subscription (see MqttConnection)


# MQTT 5 subscription identifiers: they tell which subscription delivered a message.
MAIN_SUBSCRIPTION_ID = 1
WATCH_SUBSCRIPTION_ID = 2


_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id (reason: success)
_READ_AHEAD = 256 * 1024
Deliver = Callable[[str, bytes, int, int, Properties | None], None]


class _BufferedSocket:
    """A TCP socket read through a buffer. paho reads a packet's fixed header one byte per
    `recv` (a system call each, and each gives up the GIL): here they come from the buffer.
    `pending()` is what paho asks of an SSL socket, whose own buffer it already uses, so its
    loop reads on without waiting in select() while bytes are buffered."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        at, buffer = self._at, self._buffer
        if at >= len(buffer):
            buffer = self._sock.recv(max(size, _READ_AHEAD))  # BlockingIOError: paho waits
            if not buffer:
                return buffer
            self._buffer, at = buffer, 0
        chunk = buffer[at:at + size]
        self._at = at + len(chunk)
        return chunk

    def pending(self) -> int:
        return len(self._buffer) - self._at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _LeanClient(mqtt.Client):
    """paho's client with a leaner receive path, measured to cost a quarter of paho's own per
    message (docs/performance.md): the TCP socket read through a buffer (`_BufferedSocket`);
    a PUBLISH at QoS 0/1 decoded here and handed to `deliver` (paho builds an MQTT 5
    properties object for every message, ~25 µs, and runs its per-topic matcher; here
    properties are decoded only when the packet has some, and no per-topic callback is
    registered); the PUBACKs of a durable batch queued as one write.

    These use paho's internals (`_create_socket`, `_handle_publish`, `_in_packet`,
    `_packet_queue`): pyproject pins the paho versions they were checked against, and
    tests/collector/test_mqtt.py fails if one changes shape. Anything unusual (QoS 2, an
    empty topic, a malformed packet) goes through paho's own code.
    """

    deliver: Deliver | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
            return _BufferedSocket(sock)
        return sock

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        deliver = self.deliver
        qos = (self._in_packet["command"] & 0x06) >> 1
        if deliver is None or qos > 1:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            end = 2 + int.from_bytes(packet[:2], "big")
            topic = packet[2:end].decode()
            mid = 0
            if qos:
                mid = int.from_bytes(packet[end:end + 2], "big")
                end += 2
            properties = None
            if self._protocol == mqtt.MQTTv5:
                if packet[end] == 0:  # no properties: the usual PUBLISH
                    end += 1
                else:
                    properties = Properties(PacketTypes.PUBLISH)
                    end += properties.unpack(packet[end:])[1]
            if not topic or end > len(packet):
                raise ValueError("not a plain PUBLISH")
        except Exception:  # paho's own decoding handles (and names) anything odd
            return super()._handle_publish()
        deliver(topic, bytes(packet[end:]), mid, qos, properties)
        if qos and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def send_pubacks(self, mids: Sequence[int]) -> None:
        """PUBACK for each packet id, queued as one write (paho queues, wakes its loop and
        sends one packet at a time)."""
        if mids:
            self._packet_queue(mqtt.PUBACK, b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid)
                                                      for mid in mids]), 0, 0)


def shared(topic_filter: str, group: str) -> str:
    """The MQTT 5 shared-subscription form of a filter (`$share/<group>/<filter>`)."""
    return f"$share/{group}/{topic_filter}" if group else topic_filter


class MqttConnection:
    """Subscribes to topics and hands messages to `on_message`; publishes alerts and state.

    `watch` filters are subscribed separately; messages they deliver carry `watch=True` (a
    scaled-out instance watches the plants it owns while sharing the data stream with others).
    """

    def __init__(
        self,
        settings: MqttSettings,
        subscriptions: list[str],
        on_message: Callable[[Message], None],
        on_connection_change: Callable[[bool, str], None] | None = None,
        watch: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self._subscriptions = subscriptions
        self._watch = watch or []
        self._suback_pending = 0
        self._on_message = on_message
        self._on_change = on_connection_change
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        # Set once the broker answered the first connection: accepted, or refused with a reason.
        self._answered = threading.Event()
        self._refusal = ""
        client = _LeanClient(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        credentials = settings.credentials
        if credentials:
            client.username_pw_set(*credentials)
        if settings.use_tls:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.deliver = self._deliver
        client.on_subscribe = self._handle_subscribe
        self._client = client

    def start(self, timeout: float = 10.0) -> None:
        """Connect (persistent session) and start the network thread; raise if unreachable."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        try:
            self._client.connect(
                self.settings.host,
                self.settings.port,
                keepalive=self.settings.keepalive,
                clean_start=False,
                properties=props,
            )
        except (OSError, ValueError) as exc:
            raise CollectorError(
                f"cannot connect to MQTT broker {self.settings.host}:{self.settings.port}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._answered.wait(timeout) or self._refusal:
            self._client.disconnect()  # no reconnect loop behind a refusal
            self._client.loop_stop()
            why = self._refusal or f"no answer within {timeout:.0f}s"
            raise CollectorError(
                f"MQTT broker {self.settings.host}:{self.settings.port} did not accept the "
                f"connection: {why} (check credentials and ACL)"
            )

    def ack(self, message: Message) -> None:
        """Acknowledge a QoS 1 message, unless it came from an earlier connection.

        After a reconnect the broker redelivers everything unacknowledged and packet ids are
        reused, so acking an old mid could acknowledge a different, not yet durable message.
        """
        if message.qos == 0:
            return
        with self._lock:
            if message.generation != self._generation:
                return
        self._client.ack(message.mid, message.qos)

    def ack_all(self, messages: Sequence[Message]) -> None:
        """Acknowledge a durable batch (as `ack` each), in one write to the broker."""
        with self._lock:
            generation = self._generation
        self._client.send_pubacks([message.mid for message in messages
                                   if message.qos == 1 and message.generation == generation])

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise CollectorError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Disconnect once what is queued (a last batch's PUBACKs) is written: disconnecting at
        once lost them under load (the broker then redelivers what was durable already)."""
        deadline = time.monotonic() + flush_timeout
        while self._client.want_write() and time.monotonic() < deadline:
            time.sleep(0.005)
        self._client.disconnect()
        self._client.loop_stop()

    def _handle_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._refusal = f"connection refused: {reason}"
            self._answered.set()
            if self._on_change:
                self._on_change(False, f"connection refused: {reason}")
            return
        with self._lock:
            self._generation += 1
            self._suback_pending = 2 if self._watch else 1
        if not self._watch:
            client.subscribe([(topic, 1) for topic in self._subscriptions])
            return
        for ident, topics in ((MAIN_SUBSCRIPTION_ID, self._subscriptions),
                              (WATCH_SUBSCRIPTION_ID, self._watch)):
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = ident
            client.subscribe([(topic, 1) for topic in topics], properties=props)

    def _handle_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            # A refused subscription (ACL) means we would silently receive nothing: say so.
            self._refusal = f"subscription refused: {', '.join(failed)}"
            self._answered.set()
            if self._on_change:
                self._on_change(False, f"subscription refused: {', '.join(failed)}")
            return
        with self._lock:
            self._suback_pending -= 1
            if self._suback_pending > 0:
                return
        self._refusal = ""
        self.connected.set()
        self._answered.set()
        if self._on_change:
            self._on_change(True, "connected")

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        if self._on_change:
            self._on_change(False, f"disconnected: {reason}")

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """A message paho decoded itself (`_LeanClient` left it to paho)."""
        self._deliver(msg.topic, bytes(msg.payload), msg.mid, msg.qos, msg.properties)

    def _deliver(
        self, topic: str, payload: bytes, mid: int, qos: int, properties: Properties | None
    ) -> None:
        # No lock: _handle_connect, the only writer of the generation, runs on this same
        # (network) thread.
        generation = self._generation
        watch = False
        if self._watch:
            ids = getattr(properties, "SubscriptionIdentifier", None) or []
            watch = WATCH_SUBSCRIPTION_ID in ids and MAIN_SUBSCRIPTION_ID not in ids
        self._on_message(Message(topic, payload, mid, qos, generation, watch))
