"""Build the configured channels (one object per `[alerts.channels.<name>]`)."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.channels.base import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.mqtt import MqttChannel, Publish, StateOf
from alerts.channels.terminal import TerminalChannel
from alerts.channels.webhook import WebhookChannel
from alerts.settings import (
    ChannelSettings,
    EmailChannelSettings,
    MqttChannelSettings,
    TerminalChannelSettings,
)


def build_channels(
    settings: Mapping[str, ChannelSettings], publish: Publish | None, state_of: StateOf
) -> dict[str, Channel]:
    """Name → channel for every configured channel."""
    channels: dict[str, Channel] = {}
    for name, config in settings.items():
        if isinstance(config, EmailChannelSettings):
            channels[name] = EmailChannel(name, config)
        elif isinstance(config, MqttChannelSettings):
            channels[name] = MqttChannel(name, config, publish, state_of)
        elif isinstance(config, TerminalChannelSettings):
            channels[name] = TerminalChannel(name, config)
        else:
            channels[name] = WebhookChannel(name, config)
    return channels
