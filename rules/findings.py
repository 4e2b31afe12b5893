"""Findings: what a check reports, in the SPEC `check --json` shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.errors import RulesError

KINDS = (
    "exceedance",
    "below_minimum",
    "no_data",
    "insufficient_data",
    "sensor_fault",
    "bypass",
    "treatment_shortfall",
    "collection_shortfall",
)
# Kinds whose value and limit are 0..1 fractions (completeness, compliant-treatment and
# collection ratios), not measurements: a person reads them as percentages.
FRACTION_KINDS = frozenset({"insufficient_data", "treatment_shortfall", "collection_shortfall"})
BASES = ("instantaneous", "hourly_mean", "daily_mean", "monthly_mean", "day", "month")
SEVERITIES = ("info", "warning", "minor", "major", "critical")


@dataclass(frozen=True, slots=True)
class CollectionNote:
    """What explains a `collection_shortfall`, as facts a person reads in either language
    (`rules.vocabulary.Vocabulary.collection_note`): the volumes, the members not connected
    (id, m³), the hours left out for silent meters, and the metered member the missing water
    follows (or the whole network). Kept as JSON by the check book and the alert book."""

    generated_m3: float
    metered_m3: float
    declared_m3: float
    collected_m3: float
    central: bool = True
    unconnected: tuple[tuple[str, float], ...] = ()
    left_out_hours: int = 0
    silent: tuple[str, ...] = ()  # member ids whose meter fell silent
    silent_inlet: str = ""  # the central plant's id when its inlet meter fell silent
    culprit: str = ""  # the metered member the missing water follows, "" for none
    culprit_share: float = 0.0  # share of its metered discharge that did not arrive
    culprit_m3: float = 0.0
    network: bool = False  # the missing water follows the whole network's flow

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        data["unconnected"] = [list(pair) for pair in self.unconnected]
        data["silent"] = list(self.silent)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionNote:
        """The note `to_json` wrote; RulesError for anything else."""
        try:
            return cls(**{**data,
                          "unconnected": tuple((str(m), float(v))
                                               for m, v in data.get("unconnected", ())),
                          "silent": tuple(str(m) for m in data.get("silent", ()))})
        except (TypeError, ValueError) as exc:
            raise RulesError(f"bad collection note {data!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Finding:
    """One episode of non-compliance or of bad data; times are aware, in the plant's zone."""

    plant: str
    station: str
    parameter: str
    kind: str
    basis: str
    start: datetime
    end: datetime
    value: float | None
    limit: float | None
    ratio: float | None
    severity: str
    # What explains it, for a person (volumes, the factories involved); in JSON only when set.
    # `note` is its English wording; `explanation` the facts, told in any language.
    note: str = ""
    explanation: CollectionNote | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RulesError(f"unknown finding kind {self.kind!r}")
        if self.basis not in BASES:
            raise RulesError(f"unknown finding basis {self.basis!r}")
        if self.severity not in SEVERITIES:
            raise RulesError(f"unknown severity {self.severity!r}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise RulesError("finding times must be timezone-aware")
        if self.end < self.start:
            raise RulesError("finding ends before it starts")

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of the condition an alert tracks: (plant, station, parameter, kind)."""
        return (self.plant, self.station, self.parameter, self.kind)

    def to_json(self) -> dict[str, Any]:
        """The SPEC `check --json` finding object."""
        return {
            "plant": self.plant,
            "station": self.station,
            "parameter": self.parameter,
            "kind": self.kind,
            "basis": self.basis,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "value": _round(self.value),
            "limit": _round(self.limit),
            "ratio": _round(self.ratio, 2),
            "severity": self.severity,
        } | ({"note": self.note} if self.note else {})


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
