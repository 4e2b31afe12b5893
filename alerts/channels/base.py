"""The one interface every notification channel implements."""

from __future__ import annotations

from typing import Protocol

from alerts.errors import ChannelError
from alerts.notification import Notification

__all__ = ["Channel", "ChannelError"]


class Channel(Protocol):
    """A delivery target. `send` either delivers within the channel's timeout or raises
    `ChannelError`; the outbox records the outcome and retries."""

    name: str

    def send(self, notification: Notification) -> None: ...
