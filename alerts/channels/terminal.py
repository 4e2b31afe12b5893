"""Terminal channel: one line per notification on stdout, stderr or the log (the demo's
live alerts)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from alerts.errors import ChannelError
from alerts.notification import Notification
from alerts.settings import TerminalChannelSettings
from rules.vocabulary import Vocabulary

log = logging.getLogger("quantrac.alerts")


def terminal_line(n: Notification) -> str:
    """`HH:MM:SS [subject] | severity value/limit (ratio×)` on a single line."""
    data = n.data
    words = Vocabulary.for_lang(n.lang)
    detail = [str(data.get("severity", ""))]
    if data.get("value") is not None and n.event != "resolved":
        limit = data.get("limit")
        detail.append(words.format_decimal(data["value"], 3)
                      + (f"/{words.format_decimal(limit, 3)}" if limit is not None else ""))
    if data.get("ratio") is not None and n.event != "resolved":
        detail.append(f"({words.format_decimal(data['ratio'], 3)}×)")
    # The event's own time (plant-local; a simulated clock in the demo), else the wall clock.
    when = data.get("time")
    moment = datetime.fromisoformat(when) if isinstance(when, str) else datetime.now(UTC)
    stamp = moment.strftime("%H:%M:%S")
    return f"{stamp} {n.subject} | {' '.join(detail)}".replace("\n", " ")


class TerminalChannel:
    """Writes the line to the configured stream; never blocks on anything but the stream."""

    def __init__(self, name: str, settings: TerminalChannelSettings) -> None:
        self.name = name
        self._settings = settings

    def send(self, notification: Notification) -> None:
        line = terminal_line(notification)
        if self._settings.stream == "log":
            log.warning("%s", line)
            return
        stream = sys.stdout if self._settings.stream == "stdout" else sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            raise ChannelError(f"terminal: {exc}") from exc
