"""The simulator's MQTT adapter (the only simulator module that imports paho).

Publishes at QoS 1 with a large in-flight window and waits for acknowledgements in windows, not
per message, so one process can push tens of thousands of records per second.
"""

from __future__ import annotations

import os
import ssl
import threading
import uuid
from collections import deque
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt

from collector.settings import MqttSettings
from simulator.errors import SimulatorError

# 0 = no paho in-flight cap: paho scans its queue on every PUBACK when capped (quadratic; 1,000
# gives ~10k msg/s, uncapped ~23k msg/s on loopback). What is outstanding is bounded by
# ACK_WINDOW instead: past it, publishing waits for the oldest acknowledgements.
MAX_INFLIGHT = 0
ACK_WINDOW = 20_000
CONNECT_TIMEOUT_S = 10.0
ACK_TIMEOUT_S = 60.0


class Publisher:
    """A connected QoS 1 publisher; use as a context manager (connects on enter)."""

    def __init__(self, settings: MqttSettings, client_id: str | None = None) -> None:
        self._settings = settings
        self._client_id = client_id or f"quantrac-sim-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()
        self._connected = threading.Event()
        self._refusal: str | None = None
        self._client: mqtt.Client | None = None

    def __enter__(self) -> Publisher:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.flush()
        finally:
            self.close()

    def connect(self) -> None:
        """Connect and wait for the CONNACK; raise `SimulatorError` with one clear line."""
        settings = self._settings
        where = f"{settings.host}:{settings.port}"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv5
        )
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        credentials = settings.credentials
        if credentials:
            client.username_pw_set(*credentials)
        if settings.use_tls:
            try:
                client.tls_set(
                    ca_certs=str(settings.ca_file) if settings.ca_file else None,
                    certfile=str(settings.cert_file) if settings.cert_file else None,
                    keyfile=str(settings.key_file) if settings.key_file else None,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise SimulatorError(f"MQTT TLS set-up failed: {exc}") from exc
        client.on_connect = self._on_connect
        try:
            client.connect(settings.host, settings.port, keepalive=settings.keepalive)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise SimulatorError(f"cannot connect to MQTT broker at {where}: {exc}") from exc
        client.loop_start()
        self._client = client
        if not self._connected.wait(CONNECT_TIMEOUT_S) or self._refusal:
            self.close()
            reason = self._refusal or f"no CONNACK within {CONNECT_TIMEOUT_S:g} s"
            raise SimulatorError(f"MQTT broker at {where} refused the connection: {reason}")

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message; blocks only when the acknowledgement window is full."""
        if self._client is None:
            raise SimulatorError("publisher is not connected")
        try:
            info = self._client.publish(topic, payload, qos=1)
        except ValueError as exc:
            raise SimulatorError(f"cannot publish to {topic[:120]!r}: {exc}") from exc
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise SimulatorError(f"publish to {topic[:120]!r} failed: {mqtt.error_string(info.rc)}")
        self._pending.append(info)
        while len(self._pending) > ACK_WINDOW:
            self._wait(self._pending.popleft())

    def flush(self) -> None:
        """Wait until the broker acknowledged every message published so far."""
        while self._pending:
            self._wait(self._pending.popleft())

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _wait(self, info: mqtt.MQTTMessageInfo) -> None:
        try:
            info.wait_for_publish(ACK_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            raise SimulatorError(f"MQTT publish failed: {exc}") from exc
        if not info.is_published():
            raise SimulatorError(
                f"MQTT broker did not acknowledge a message within {ACK_TIMEOUT_S:g} s"
            )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: Any,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self._refusal = str(reason_code)
        self._connected.set()
