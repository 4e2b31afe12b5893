"""What the console reads and changes, as small protocols; `quantrac.web` passes the real
objects (the alert manager over the state directory's alert book).

PHASE 2 adds the readings (latest values, series) and the scheduled checks' results
(findings, completeness, treatment) here, each as its own protocol.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from alerts.alert import Alert
from alerts.history import HistoryEntry


class AlertSource(Protocol):
    """The alert book, through the same manager as `quantrac alerts` and MQTT acks."""

    def list_alerts(
        self, open_only: bool = False, plants: Collection[str] | None = None, limit: int = 500
    ) -> list[Alert]: ...

    def get(self, alert_id: str) -> Alert: ...

    def histories(self, alert_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]: ...

    def ack(
        self, alert_id: str, by: str, note: str | None, now: datetime, reason: str | None = None
    ) -> Alert: ...

    def change_marker(self) -> int: ...
