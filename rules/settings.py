"""The `[checks]` config section: how compliance and data quality are judged.

Defaults follow REGULATIONS.md §4–§6 where it speaks (75 % valid readings, hourly and daily
means, severity bands, 100 % treatment target); the data-quality heuristics are operational
choices, not regulation values, and are all overridable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.permit import Duration, parse_duration

Basis = Literal["instantaneous", "hourly_mean", "daily_mean", "monthly_mean"]
Severity = Literal["info", "warning", "minor", "major", "critical"]


class SeverityBands(BaseModel):
    """Ratio (value ÷ limit) thresholds, after Decree 45/2022 Art. 18 (REGULATIONS.md §5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    minor: float = Field(default=1.1, gt=1.0, description="ratio from which `minor` starts")
    major: float = Field(default=1.5, gt=1.0, description="ratio from which `major` starts")
    critical: float = Field(default=3.0, gt=1.0, description="ratio from which `critical` starts")

    @model_validator(mode="after")
    def _ordered(self) -> SeverityBands:
        if not self.minor < self.major < self.critical:
            raise ValueError("severity bands must satisfy minor < major < critical")
        return self

    def classify(self, ratio: float) -> str:
        """`warning` below `minor`, then `minor`, `major`, `critical` (lower bounds inclusive)."""
        if ratio >= self.critical:
            return "critical"
        if ratio >= self.major:
            return "major"
        if ratio >= self.minor:
            return "minor"
        return "warning"


class ChronicRule(BaseModel):
    """Chronic non-compliance, by which the console ranks plants (US EPA anchor, not VN law).

    Borrowed from US EPA's significant non-compliance for pretreatment users (REGULATIONS.md
    §7). A parameter is chronic when, over the last `months` calendar months, at least
    `over_share` of its judged hourly windows broke its limit, or at least `serious_share`
    reached `conventional_factor` × the limit (BOD5, TSS, oil & grease) or `other_factor` ×
    (every other parameter)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    months: int = Field(default=6, ge=1, le=24, description="calendar months looked at, the "
                        "current one included")
    over_share: float = Field(default=0.66, gt=0, le=1.0, description="share of judged "
                              "windows over the limit that makes a parameter chronic")
    serious_share: float = Field(default=0.33, gt=0, le=1.0, description="share of judged "
                                 "windows at or above the factor × limit that makes it chronic")
    conventional: tuple[str, ...] = Field(
        default=("bod5", "tss", "oil_grease"),
        description="parameters judged with `conventional_factor` (EPA: BOD, TSS, oil)")
    conventional_factor: float = Field(default=1.4, gt=1.0, description="ratio to the "
                                       "limit that counts as serious for conventional "
                                       "parameters")
    other_factor: float = Field(default=1.2, gt=1.0, description="ratio to the limit that "
                                "counts as serious for every other parameter")

    def factor(self, key: str) -> float:
        """The ratio to its limit from which a window of `key` counts as serious."""
        return self.conventional_factor if key in self.conventional else self.other_factor


class PhysicalRange(BaseModel):
    """Values outside [min, max] cannot be real measurements (sensor fault)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


def _default_ranges() -> dict[str, PhysicalRange]:
    return {
        "ph": PhysicalRange(min=0.0, max=14.0),
        "temperature": PhysicalRange(min=0.0, max=100.0),
    }


class CheckSettings(BaseModel):
    """How checks judge data; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_valid_fraction: float = Field(
        default=0.75, gt=0.0, le=1.0,
        description="a mean counts only with at least this share of the expected readings "
        "(expected = window length ÷ plant interval); else `insufficient_data`",
    )
    default_bases: tuple[Basis, ...] = Field(
        default=("hourly_mean", "daily_mean"),
        description="bases a check judges each limited parameter on (REGULATIONS.md §4 default)",
    )
    bases: dict[str, tuple[Basis, ...]] = Field(
        default_factory=dict,
        description="per-parameter bases replacing `default_bases`, e.g. cod = ['daily_mean']",
    )
    alert_bases: tuple[Literal["instantaneous"], ...] = Field(
        default=("instantaneous",),
        description="bases judged inline on every ingested batch (for fast alerts)",
    )
    compliance_stations: tuple[str, ...] = Field(
        default=("outlet", "connection"),
        description="stations whose parameters are judged against limits (`connection`: a "
        "member factory's discharge into the cluster network)",
    )
    severity: SeverityBands = Field(default_factory=SeverityBands)
    chronic: ChronicRule = Field(default_factory=ChronicRule)
    data_severity: Severity = Field(
        default="warning", description="severity of no_data, insufficient_data, sensor_fault"
    )
    shortfall_severity: Severity = Field(
        default="major", description="severity of treatment_shortfall"
    )
    no_data_after_intervals: float = Field(
        default=3.0, gt=0,
        description="`no_data` once a station/parameter is silent longer than this many "
        "plant intervals (also a gap inside the checked range)",
    )
    stuck_readings: int = Field(
        default=24, ge=3,
        description="`sensor_fault` when this many consecutive valid readings are identical",
    )
    stuck_exempt: tuple[str, ...] = Field(
        default=("flow_bypass",),
        description="parameters legitimately constant (a closed bypass reads 0 for days)",
    )
    jump_steps: dict[str, float] = Field(
        default_factory=lambda: {"ph": 3.0, "temperature": 10.0},
        description="`sensor_fault` when consecutive valid readings differ by more than this",
    )
    physical_ranges: dict[str, PhysicalRange] = Field(
        default_factory=_default_ranges,
        description="possible values per parameter; any other parameter must be >= 0; "
        "readings outside are `sensor_fault` and excluded from means",
    )
    treatment_target: float = Field(
        default=1.0, gt=0, le=1.0,
        description="compliant-treatment ratio target (REGULATIONS.md §6: 100 %)",
    )
    treatment_tolerance: float = Field(
        default=0.05, ge=0, lt=1.0,
        description="allowance on the outflow/inflow balance: two flowmeters of a few % "
        "accuracy each, sludge/evaporation (~1 %) and the plant's retention lag across "
        "midnight move a day's ratio by several % (an operational allowance, not a regulation "
        "value; 0 = strict). Bypass or non-compliant discharge is a shortfall at any volume",
    )
    collection_tolerance: float = Field(
        default=0.05, ge=0, lt=1.0,
        description="allowance on a cluster's collection balance (generated vs the central "
        "plant's inflow): several flowmeters, estimated declared flows, network losses and "
        "travel time across midnight (an operational allowance, not a regulation value; "
        "0 = strict). A not_connected member is a shortfall at any volume",
    )
    flow_gap_intervals: float = Field(
        default=3.0, gt=0,
        description="flow readings further apart than this many intervals are not bridged "
        "when integrating volumes (the gap counts as missing)",
    )
    lateness: Duration = Field(
        default="48h",
        description="how late data may arrive; the scheduler re-checks windows this far back",
    )

    @property
    def lateness_delta(self) -> timedelta:
        return parse_duration(self.lateness)

    def bases_for(self, key: str) -> tuple[Basis, ...]:
        """The evaluation bases configured for parameter `key`."""
        return self.bases.get(key, self.default_bases)

    def physical_range(self, key: str) -> tuple[float, float]:
        """(min, max) possible for `key`; concentrations and flows cannot be negative."""
        rng = self.physical_ranges.get(key)
        if rng is None:
            return 0.0, float("inf")
        return (
            -float("inf") if rng.min is None else rng.min,
            float("inf") if rng.max is None else rng.max,
        )
