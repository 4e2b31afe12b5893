"""What a channel receives: one rendered message about one alert event, from the outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox row: `event` (fired, resolved, …) of alert `alert_id`, rendered in `lang`.

    `data` is the SPEC alert event (JSON object) that MQTT and webhooks carry as-is.
    """

    alert_id: str
    event: str
    channel: str
    cluster: str
    plant: str
    lang: str
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    outbox_id: int = 0
    route: str = ""
    failover: str | None = None

    def to_row_json(self) -> str:
        return json.dumps(
            {"subject": self.subject, "text": self.text, "data": self.data}, ensure_ascii=False
        )
