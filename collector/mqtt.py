"""The collector's MQTT adapter (the only module that imports paho).

QoS 1, MQTT 5 persistent session (clean_start=False + session expiry) under a fixed client id,
manual acknowledgements: a PUBACK goes out only when the service says the message is durable.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
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
        client = mqtt.Client(
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

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise CollectorError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def stop(self) -> None:
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
        # No lock: _handle_connect, the only writer of the generation, runs on this same
        # (network) thread.
        generation = self._generation
        watch = False
        if self._watch:
            ids = getattr(msg.properties, "SubscriptionIdentifier", None) or []
            watch = WATCH_SUBSCRIPTION_ID in ids and MAIN_SUBSCRIPTION_ID not in ids
        self._on_message(
            Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, generation, watch)
        )
