"""What the overview says about each plant: its status (SPEC `data-status`), newest reading,
month-to-date compliance, completeness and treatment, open alerts by severity and its chronic
non-compliance standing — from what the scheduled checks keep and the alert book, never from
raw readings.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from alerts.alert import Alert
from alerts.settings import severity_rank
from console.sources import AlertSource, CheckResults
from rules.chronic import Standing, standings
from rules.permit import Plant
from rules.results import TreatmentRow
from rules.settings import CheckSettings
from rules.summary import LatestValue, Tally

STATUSES = ("compliant", "exceedance", "no_data", "sensor_fault", "bypass", "unknown")
_BREACH = frozenset({"exceedance", "below_minimum"})
OPEN_LIMIT = 100_000  # open alerts read for an overview (all of them, in practice)


def plant_status(open_kinds: Collection[str], latest: Sequence[LatestValue], now: datetime,
                 stale_after: timedelta) -> str:
    """The worst of: untreated bypass, a limit broken, a sensor at fault (an open alert, or a
    device reporting error 02 now), silence (an open alert, or no reading for `stale_after`);
    `unknown` when no reading was ever kept; else `compliant`. Open alerts decide breaches:
    they are what the checks found and nobody has seen end."""
    if "bypass" in open_kinds:
        return "bypass"
    if _BREACH & set(open_kinds):
        return "exceedance"
    if "sensor_fault" in open_kinds or any(v.status == 2 for v in latest):
        return "sensor_fault"
    if "no_data" in open_kinds:
        return "no_data"
    if not latest:
        return "unknown"
    if now - max(v.seen for v in latest) > stale_after:
        return "no_data"
    return "compliant"


@dataclass(frozen=True)
class PlantSummary:
    """One plant's line on the overview."""

    plant: Plant
    status: str
    seen: datetime | None  # time of its newest reading
    month: str  # the plant-local month the figures are for (YYYY-MM)
    judged: int  # hourly windows judged this month so far
    over: int  # of which over a limit
    worst: float | None  # the highest ratio to a limit of a judged window
    expected: int
    valid: int
    treatment: TreatmentRow | None
    alerts: dict[str, int] = field(default_factory=dict)  # open alerts per severity
    standing: Standing | None = None

    @property
    def completeness(self) -> float | None:
        return min(1.0, self.valid / self.expected) if self.expected else None

    @property
    def over_share(self) -> float | None:
        return self.over / self.judged if self.judged else None

    @property
    def open_alerts(self) -> int:
        return sum(self.alerts.values())

    @property
    def worst_severity(self) -> str | None:
        return max(self.alerts, key=severity_rank) if self.alerts else None

    @property
    def chronic(self) -> bool:
        return self.standing is not None and self.standing.chronic


def month_of(moment: date | datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def months_back(month: str, count: int) -> str:
    """The month `count` months before `month` (YYYY-MM)."""
    year, number = int(month[:4]), int(month[5:7]) - count
    while number < 1:
        year, number = year - 1, number + 12
    return f"{year:04d}-{number:02d}"


def summarise(plants: Sequence[Plant], results: CheckResults, alerts: AlertSource,
              checks: CheckSettings, now: datetime) -> list[PlantSummary]:
    """A summary per plant, in the order given: a handful of indexed queries whatever the
    number of plants (the current month's tallies and volumes, the chronic rule's months)."""
    if not plants:
        return []
    ids = [plant.id for plant in plants]
    latest: dict[str, list[LatestValue]] = {}
    for value in results.latest_values(ids, per_plant=True):
        latest.setdefault(value.plant, []).append(value)
    open_alerts: dict[str, list[Alert]] = {}
    for alert in alerts.list_alerts(True, ids, OPEN_LIMIT):
        open_alerts.setdefault(alert.plant, []).append(alert)
    months = {plant.id: month_of(now.astimezone(plant.zone)) for plant in plants}
    tallies: dict[str, list[Tally]] = {}
    treatment: dict[str, TreatmentRow] = {}
    chronic: dict[str, Standing] = {}
    rule = checks.chronic
    for month in sorted(set(months.values())):
        group = [pid for pid in ids if months[pid] == month]
        for tally in results.tallies(group, month, month, per="plant"):
            tallies.setdefault(tally.plant, []).append(tally)
        for row in results.month_treatment(group, month):
            treatment[row.plant] = row
        chronic.update(standings(results.tallies(group, months_back(month, rule.months - 1),
                                                 month, per="parameter"), rule))
    found = []
    for plant in plants:
        mine = tallies.get(plant.id, [])
        judged = [t for t in mine if t.judged]
        values = latest.get(plant.id, [])
        severities: dict[str, int] = {}
        for alert in open_alerts.get(plant.id, []):
            severities[alert.severity] = severities.get(alert.severity, 0) + 1
        stale = plant.interval_delta * checks.no_data_after_intervals
        found.append(PlantSummary(
            plant=plant,
            status=plant_status({a.kind for a in open_alerts.get(plant.id, [])}, values, now,
                                stale),
            seen=max((v.seen for v in values), default=None),
            month=months[plant.id],
            judged=sum(t.judged for t in judged), over=sum(t.over for t in judged),
            worst=max((t.worst for t in judged if t.worst is not None), default=None),
            expected=sum(t.expected for t in mine), valid=sum(t.valid for t in mine),
            treatment=treatment.get(plant.id) if plant.kind == "plant" else None,
            alerts=dict(sorted(severities.items(), key=lambda kv: -severity_rank(kv[0]))),
            standing=chronic.get(plant.id),
        ))
    return found
