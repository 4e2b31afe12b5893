"""The alert value type: one episode of one condition, with its lifecycle attributes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from alerts.errors import AlertsError
from rules.findings import KINDS, SEVERITIES, CollectionNote

STATES = ("pending", "firing", "resolved")
OPEN_STATES = ("pending", "firing")
# Why an operator acknowledged (SPEC "Console (web)"); `other` needs a note.
ACK_REASONS = ("maintenance", "calibration", "process_upset", "sensor_fault", "false_alarm",
               "other")


def check_ack_reason(reason: str | None, note: str | None) -> None:
    """Raise AlertsError for an unknown reason code, or `other` without a note."""
    if reason is None:
        return
    if reason not in ACK_REASONS:
        raise AlertsError(f"unknown acknowledgement reason {reason!r} "
                          f"(use one of {', '.join(ACK_REASONS)})")
    if reason == "other" and not (note or "").strip():
        raise AlertsError("acknowledgement reason 'other' needs a note")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert episode for the key (plant, station, parameter, kind).

    `id` is empty until the book stores the alert. Times are aware (UTC in the book).
    `breach_bases` are the bases (instantaneous, hourly_mean, …) currently reporting the breach:
    the alert clears only when every one of them has cleared.
    """

    id: str
    cluster: str
    plant: str
    station: str
    parameter: str
    kind: str
    state: str
    severity: str
    basis: str
    value: float | None
    limit: float | None
    ratio: float | None
    started_at: datetime
    last_end: datetime
    opened_at: datetime
    last_breach_at: datetime
    breach_bases: frozenset[str] = field(default_factory=frozenset)
    fired_at: datetime | None = None
    announced_at: datetime | None = None
    notified_at: datetime | None = None
    notify_count: int = 0
    escalated_at: datetime | None = None
    clear_since: datetime | None = None
    resolved_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    ack_reason: str | None = None
    suppressed: str | None = None
    flapping: bool = False
    # What explains the breach (a collection shortfall's volumes and members), from the
    # episode's latest finding that had one; messages tell it in their language.
    explanation: CollectionNote | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise AlertsError(f"unknown alert state {self.state!r}")
        if self.kind not in KINDS:
            raise AlertsError(f"unknown alert kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise AlertsError(f"unknown severity {self.severity!r}")
        if self.ack_reason is not None and self.ack_reason not in ACK_REASONS:
            raise AlertsError(f"unknown acknowledgement reason {self.ack_reason!r}")
        for name in ("started_at", "opened_at", "last_breach_at", "last_end"):
            if getattr(self, name).tzinfo is None:
                raise AlertsError(f"alert {name} must be timezone-aware")

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.plant, self.station, self.parameter, self.kind)

    @property
    def scope_key(self) -> tuple[str, str, str]:
        return (self.plant, self.station, self.parameter)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None

    def evolve(self, **changes: Any) -> Alert:
        """A copy with some attributes changed (the lifecycle's only way to 'mutate')."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready snapshot (used by `alerts list --json`, events and webhooks)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "cluster": self.cluster,
            "plant": self.plant,
            "station": self.station,
            "parameter": self.parameter,
            "kind": self.kind,
            "state": self.state,
            "severity": self.severity,
            "basis": self.basis,
            "value": self.value,
            "limit": self.limit,
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "start": iso(self.started_at),
            "fired_at": iso(self.fired_at),
            "resolved_at": iso(self.resolved_at),
            "acked_by": self.acked_by,
            "acked_at": iso(self.acked_at),
            "ack_note": self.ack_note,
            "ack_reason": self.ack_reason,
            "suppressed": self.suppressed,
            "flapping": self.flapping,
        }
