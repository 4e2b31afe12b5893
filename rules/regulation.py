"""Regulation tables as versioned data (rules/data/*.toml), loaded and validated.

Each file carries its source, dates and a confidence mark per value; code never holds a
regulation number itself (REGULATIONS.md is the only authority for the values).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from datetime import date
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rules.errors import RulesError

Confidence = Literal["C", "S", "M"]
WaterType = Literal["river", "lake", "coastal_aquatic", "coastal_other"]
_DATA = "data"


class Band(BaseModel):
    """One band of a step function; `upper` is inclusive, None = open top band."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    upper: float | None = None
    value: float = Field(gt=0)


def band_value(bands: tuple[Band, ...], x: float) -> float:
    """The value of the first band whose inclusive upper bound holds `x`."""
    for band in bands:
        if band.upper is None or x <= band.upper:
            return band.value
    raise RulesError(f"no band covers {x}")


class Bound(BaseModel):
    """A column's C value: an upper limit, and a lower one for range parameters (pH)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


class VolumeBand(Bound):
    """A C value that holds for one column up to a discharge volume (QCVN 40:2025 model)."""

    column: str
    flow_max_m3_day: float | None = None


class Parameter(BaseModel):
    """One table row: a parameter's C values per column (flat or by volume band)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    row: int | None = None
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str
    unit: str
    limits: dict[str, Bound] = Field(default_factory=dict)
    bands: tuple[VolumeBand, ...] = ()
    confidence: dict[str, Confidence]

    def bound(self, column: str, flow_m3_day: float | None) -> Bound | None:
        """C for `column` (and the flow's volume band, when the row is banded); None if absent."""
        if column in self.limits:
            return self.limits[column]
        banded = [b for b in self.bands if b.column == column]
        if not banded:
            return None
        if flow_m3_day is None:
            raise RulesError(
                f"{self.key}: limit depends on the discharge volume; give the design flow"
            )
        for band in sorted(banded, key=lambda b: float("inf") if b.flow_max_m3_day is None
                           else b.flow_max_m3_day):
            if band.flow_max_m3_day is None or flow_m3_day <= band.flow_max_m3_day:
                return Bound(min=band.min, max=band.max)
        return None


class Coefficients(BaseModel):
    """Which parameters are exempt from Kq/Kf."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    exempt: tuple[str, ...] = ()
    confidence: Confidence


class KfTable(BaseModel):
    """Discharge-flow coefficient by design flow (m³/day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    measure: Literal["flow_m3_day"]
    confidence: Confidence
    bands: tuple[Band, ...]


class KqRule(BaseModel):
    """Receiving-water coefficient for one water type: fixed, or by flow/volume bands."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    confidence: Confidence
    measure: Literal["flow_m3_s", "volume_m3"] | None = None
    no_data: float | None = Field(default=None, gt=0)
    bands: tuple[Band, ...] = ()
    value: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _fixed_or_banded(self) -> KqRule:
        if (self.value is None) == (not self.bands):
            raise ValueError("a Kq rule has either a fixed value or bands")
        return self


class Regulation(BaseModel):
    """A regulation's table, coefficients and dates, as read from its data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    designation: str = Field(min_length=1)  # "QCVN 40:2011/BTNMT": what a person reads
    title: str
    source: str
    effective_from: date
    valid_until: date | None = None
    transition_until: date | None = None
    status: str
    formula: str
    formula_confidence: Confidence
    uses_coefficients: bool
    table_loaded: bool
    columns: dict[str, str]
    coefficients: Coefficients | None = None
    kf: KfTable | None = None
    kq: dict[WaterType, KqRule] = Field(default_factory=dict)
    parameters: tuple[Parameter, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Regulation:
        if self.uses_coefficients and (self.kf is None or not self.kq):
            raise ValueError("a regulation using coefficients needs kf and kq tables")
        if self.table_loaded != bool(self.parameters):
            raise ValueError("table_loaded must be true exactly when parameters are listed")
        keys = [p.key for p in self.parameters]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate parameter key")
        for p in self.parameters:
            for column in (*p.limits, *(b.column for b in p.bands)):
                if column not in self.columns:
                    raise ValueError(f"{p.key}: unknown column {column!r}")
        return self

    def parameter(self, key: str) -> Parameter | None:
        """The table row for `key`, if the table has one."""
        return next((p for p in self.parameters if p.key == key), None)

    def exempt(self, key: str) -> bool:
        """True when `key` takes no Kq/Kf (Cmax = C)."""
        return self.coefficients is not None and key in self.coefficients.exempt

    def kf_for(self, flow_m3_day: float) -> float:
        """Kf for a discharge flow F (m³/day); bands are inclusive on the upper side."""
        if self.kf is None:
            raise RulesError(f"{self.id} has no Kf table")
        if flow_m3_day < 0:
            raise RulesError(f"negative discharge flow {flow_m3_day}")
        return band_value(self.kf.bands, flow_m3_day)

    def kq_for(
        self, water: str, flow_m3_s: float | None = None, volume_m3: float | None = None
    ) -> float:
        """Kq for a receiving water; rivers/lakes without flow/volume data take `no_data`."""
        rule = self.kq.get(water)  # type: ignore[call-overload]
        if rule is None:
            raise RulesError(f"{self.id}: no Kq for receiving water {water!r}")
        if rule.value is not None:
            return rule.value
        measure = flow_m3_s if rule.measure == "flow_m3_s" else volume_m3
        if measure is None:
            if rule.no_data is None:
                raise RulesError(f"{self.id}: Kq for {water} needs {rule.measure}")
            return rule.no_data
        return band_value(rule.bands, measure)

    def check_in_force(self, on: date) -> None:
        """Raise RulesError when `on` lies outside the regulation's validity."""
        if on < self.effective_from:
            raise RulesError(f"{self.id} is in force only from {self.effective_from}")
        if self.valid_until is not None and on > self.valid_until:
            raise RulesError(f"{self.id} applies only until {self.valid_until}")


def known_regulations() -> tuple[str, ...]:
    """Ids of the regulations shipped as data files."""
    files = resources.files("rules").joinpath(_DATA).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


def parse_regulation(data: Mapping[str, Any]) -> Regulation:
    """Validate a regulation document (the parsed TOML); raises RulesError naming the field."""
    try:
        return Regulation.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise RulesError(f"regulation {data.get('id', '?')}: {where}: {first['msg']}") from exc


@functools.cache
def load_regulation(regulation_id: str) -> Regulation:
    """Load a shipped regulation by id; an unknown id raises RulesError naming the known ids.

    Cached (the model is frozen): the collector derives limits per plant and day, and parsing
    the TOML each time cost more than the inline checks themselves at 100 plants."""
    known = known_regulations()
    if regulation_id not in known:
        raise RulesError(
            f"unknown regulation {regulation_id!r} (known: {', '.join(known)})"
        )
    text = resources.files("rules").joinpath(_DATA, f"{regulation_id}.toml").read_text("utf-8")
    regulation = parse_regulation(tomllib.loads(text))
    if regulation.id != regulation_id:
        raise RulesError(f"data file {regulation_id}.toml declares id {regulation.id!r}")
    return regulation
