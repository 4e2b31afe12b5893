"""What an evaluation returns: findings plus the treatment and completeness tables of SPEC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rules.findings import Finding


@dataclass(frozen=True, slots=True)
class TreatmentRow:
    """Per plant and day (or month, `date` = "YYYY-MM"): volumes and the 100 % target ratios."""

    plant: str
    date: str
    inflow_m3: float
    outflow_m3: float
    bypass_m3: float
    treated_ratio: float | None
    compliant_ratio: float | None
    # hours of the period with inflow or outflow not measured (gaps not bridged); not in JSON
    flow_gap_hours: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "plant": self.plant,
            "date": self.date,
            "inflow_m3": round(self.inflow_m3, 3),
            "outflow_m3": round(self.outflow_m3, 3),
            "bypass_m3": round(self.bypass_m3, 3),
            "treated_ratio": _ratio(self.treated_ratio),
            "compliant_ratio": _ratio(self.compliant_ratio),
        }


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """Per cluster and plant-local day (or month, `date` = "YYYY-MM"): the collection and
    treatment ledger of the 100 % target (SPEC `clusters` rows). Ratios are None when nothing
    measured was generated; `target_met` is None for a period not (wholly) judged."""

    cluster: str
    date: str
    generated_m3: float
    collected_m3: float
    treated_compliant_m3: float
    collection_ratio: float | None
    treatment_ratio: float | None
    target_met: bool | None
    # The ratios' own volumes (not in JSON), so rows of days add up to a month exactly: the
    # collection ratio is measured_collected ÷ measured_generated (hours every meter involved
    # measured), the treatment ratio judged_compliant ÷ judged_generated (those hours with the
    # plant's treatment judged too).
    measured_generated_m3: float = 0.0
    measured_collected_m3: float = 0.0
    judged_generated_m3: float = 0.0
    judged_compliant_m3: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "date": self.date,
            "generated_m3": round(self.generated_m3, 3),
            "collected_m3": round(self.collected_m3, 3),
            "treated_compliant_m3": round(self.treated_compliant_m3, 3),
            "collection_ratio": _ratio(self.collection_ratio),
            "treatment_ratio": _ratio(self.treatment_ratio),
            "target_met": self.target_met,
        }


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True, slots=True)
class CompletenessRow:
    """Per plant, station, parameter and plant-local day: expected vs valid readings."""

    plant: str
    station: str
    parameter: str
    date: date
    expected: int
    valid: int
    excluded: int = 0  # readings present but not valid (status 01/02, impossible); not in JSON

    @property
    def fraction(self) -> float:
        return 0.0 if self.expected <= 0 else min(1.0, self.valid / self.expected)

    def to_json(self) -> dict[str, Any]:
        return {
            "plant": self.plant,
            "station": self.station,
            "parameter": self.parameter,
            "date": self.date.isoformat(),
            "expected": self.expected,
            "valid": self.valid,
            "fraction": round(self.fraction, 4),
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything one evaluation found; `to_json()` is SPEC's `check --json` document."""

    findings: list[Finding] = field(default_factory=list)
    treatment: list[TreatmentRow] = field(default_factory=list)
    completeness: list[CompletenessRow] = field(default_factory=list)
    clusters: list[ClusterRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "treatment": [t.to_json() for t in self.treatment],
            "completeness": [c.to_json() for c in self.completeness],
            "clusters": [c.to_json() for c in self.clusters],
        }
