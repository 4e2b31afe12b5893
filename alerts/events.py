"""Alert events in the two outside shapes: the MQTT/webhook JSON event and the InfluxDB
`alert` point (SPEC: tags cluster, plant, parameter, kind, severity; fields state, value,
limit, ratio, id).

The point is written as line protocol here (a few lines, so `alerts` need not import
`collector`); the collector hands the lines to `Store.write_lines`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.alert import Alert

MEASUREMENT = "alert"


def alert_event(alert: Alert, event: str, now: datetime, zone: ZoneInfo | None) -> dict[str, Any]:
    """The JSON alert event published on the plant's `alerts` topic (rules/topics.py)."""

    def local(value: datetime | None) -> str | None:
        if value is None:
            return None
        return (value.astimezone(zone) if zone else value).isoformat()

    return {
        "id": alert.id,
        "event": event,
        "state": alert.state,
        "time": local(now),
        "cluster": alert.cluster,
        "plant": alert.plant,
        "station": alert.station,
        "parameter": alert.parameter,
        "kind": alert.kind,
        "basis": alert.basis,
        "severity": alert.severity,
        "value": alert.value,
        "limit": alert.limit,
        "ratio": None if alert.ratio is None else round(alert.ratio, 3),
        "start": local(alert.started_at),
        "fired_at": local(alert.fired_at),
        "resolved_at": local(alert.resolved_at),
        "acknowledged": alert.acknowledged,
        "acked_by": alert.acked_by,
        "suppressed": alert.suppressed,
    } | ({} if alert.explanation is None else {"explanation": alert.explanation.to_json()})


def alert_line(alert: Alert, now: datetime) -> str:
    """One `alert` point in InfluxDB line protocol at `now` (ns precision)."""
    tags = {
        "cluster": alert.cluster,
        "plant": alert.plant,
        "parameter": alert.parameter,
        "kind": alert.kind,
        "severity": alert.severity,
    }
    tag_text = "".join(f",{key}={_escape_tag(value)}" for key, value in sorted(tags.items()))
    fields = [f"state={_string_field(alert.state)}", f"id={_string_field(alert.id)}"]
    for name in ("value", "limit", "ratio"):
        number = getattr(alert, name)
        if number is not None:
            fields.append(f"{name}={float(number)!r}")
    ns = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000
    return f"{MEASUREMENT}{tag_text} {','.join(fields)} {ns}"


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
