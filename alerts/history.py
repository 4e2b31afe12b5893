"""An alert's history as people read it: its lifecycle transitions (opened, fired, acknowledged,
resolved, …) merged with its deliveries from the outbox (notified per channel), oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.book import parse_time

# Outbox outcomes worth showing: a delivery made, or one that was given up.
_DELIVERY_EVENTS = {"sent": "notified", "failed_over": "notify_failed_over",
                    "dead": "notify_failed"}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an alert's history. `reason` is the acknowledgement reason code (if any),
    `channel` the notification channel of a delivery, `notified` the lifecycle event that the
    delivery announced (fired, acknowledged, …)."""

    at: datetime
    event: str
    detail: str = ""
    to_state: str | None = None
    reason: str | None = None
    channel: str | None = None
    notified: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(), "event": self.event, "detail": self.detail,
            "to_state": self.to_state, "reason": self.reason, "channel": self.channel,
            "notified": self.notified,
        }


def merge_history(
    transitions: Iterable[Mapping[str, Any]], deliveries: Iterable[Mapping[str, Any]]
) -> list[HistoryEntry]:
    """Book transition rows and outbox rows of one alert → its history, oldest first (a
    delivery sorts after the transition that caused it when both carry the same time)."""
    entries = [
        (parse_time(row["at"]), 0, HistoryEntry(
            at=parse_time(row["at"]), event=row["event"], detail=row["detail"] or "",
            to_state=row["to_state"], reason=row.get("reason"),
        ))
        for row in transitions
    ]
    for row in deliveries:
        event = _DELIVERY_EVENTS.get(row["status"])
        stamp = row.get("sent_at") or row.get("last_at")
        if event is None or not stamp:
            continue
        entries.append((parse_time(stamp), 1, HistoryEntry(
            at=parse_time(stamp), event=event, detail=row.get("last_error") or "",
            channel=row["channel"], notified=row["event"],
        )))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]
