"""MQTT channel: the SPEC alert event on the plant's `alerts` topic (QoS 1) and the retained
plant state on its `state` topic (rules/topics.py; the prefix is configurable per channel).

It does not import paho: the collector injects its `publish(topic, payload, qos, retain)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alerts.errors import ChannelError
from alerts.notification import Notification
from alerts.settings import MqttChannelSettings
from rules.topics import build

Publish = Callable[[str, bytes, int, bool], None]
StateOf = Callable[[str, datetime], dict[str, Any]]


class MqttChannel:
    """Publishes through the collector's MQTT client."""

    def __init__(
        self, name: str, settings: MqttChannelSettings, publish: Publish | None, state_of: StateOf
    ) -> None:
        self.name = name
        self._settings = settings
        self._publish = publish
        self._state_of = state_of

    def topics(self, cluster: str, plant: str) -> tuple[str, str]:
        prefix = self._settings.prefix
        return (build("alerts", cluster, plant, prefix=prefix),
                build("state", cluster, plant, prefix=prefix))

    def send(self, notification: Notification) -> None:
        if self._publish is None:
            raise ChannelError("no MQTT publisher: the collector supplies one when it runs")
        alerts_topic, state_topic = self.topics(notification.cluster, notification.plant)
        event = json.dumps(notification.data, ensure_ascii=False).encode()
        try:
            self._publish(alerts_topic, event, self._settings.qos, False)
            if self._settings.retain_state:
                state = self._state_of(notification.plant, datetime.now(UTC))
                state["cluster"] = notification.cluster
                payload = json.dumps(state, ensure_ascii=False).encode()
                self._publish(state_topic, payload, self._settings.qos, True)
        except ChannelError:
            raise
        except Exception as exc:  # the injected publisher may raise anything
            raise ChannelError(f"mqtt publish: {type(exc).__name__}: {exc}") from exc
