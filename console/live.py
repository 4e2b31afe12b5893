"""Live values: each configured series of a plant with its newest reading (the collector's
last-values cache), device status and, at a compliance station, the limit in force today —
what the plant page, the gate board and `/api/v1/plants/<id>/latest` show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.frame import STATUS_CODES
from rules.limits import EffectiveLimits, Limit
from rules.permit import Plant
from rules.settings import CheckSettings
from rules.summary import LatestValue


@dataclass(frozen=True, slots=True)
class LiveValue:
    """One series on a live page."""

    station: str
    parameter: str
    unit: str
    latest: LatestValue | None
    limit: Limit | None  # only at a compliance station

    @property
    def value(self) -> float | None:
        return self.latest.value if self.latest else None

    @property
    def code(self) -> str:
        """The newest reading's Circular 10 status code ("" when nothing was seen)."""
        return STATUS_CODES[self.latest.status] if self.latest else ""

    @property
    def over(self) -> bool:
        value, limit = self.value, self.limit
        if value is None or limit is None:
            return False
        return bool((limit.max is not None and value > limit.max)
                    or (limit.min is not None and value < limit.min))

    def to_json(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "station": self.station, "parameter": self.parameter, "unit": self.unit,
            "value": self.value,
            "at": latest.at.isoformat() if latest and latest.at else None,
            "status": self.code or None,
            "seen": latest.seen.isoformat() if latest else None,
            "limit": self.limit.to_json() if self.limit else None,
            "over": self.over,
        }


@dataclass(frozen=True, slots=True)
class LiveStation:
    station: str
    values: tuple[LiveValue, ...]


def live_values(plant: Plant, latest: Sequence[LatestValue], limits: EffectiveLimits,
                checks: CheckSettings, compliance_only: bool = False) -> list[LiveStation]:
    """Per station (config order) every configured series with its newest reading; only the
    compliance stations' (outlet, connection) when `compliance_only` (the public board)."""
    newest = {(v.station, v.parameter): v for v in latest if v.plant == plant.id}
    stations = []
    for station, keys in plant.stations.items():
        judged = station in checks.compliance_stations
        if compliance_only and not judged:
            continue
        values = []
        for key in keys:
            limit = limits.get(key) if judged else None
            unit = limit.unit if limit else ""
            values.append(LiveValue(station, key, unit, newest.get((station, key)), limit))
        stations.append(LiveStation(station, tuple(values)))
    return stations


def newest_time(stations: Sequence[LiveStation]) -> datetime | None:
    """The time of the newest reading shown."""
    return max((v.latest.seen for s in stations for v in s.values if v.latest), default=None)
