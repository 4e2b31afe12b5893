"""A plant as its environmental permit describes it (the fixed `[[plants]]` config core)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rules.topics import ID_PATTERN

# Plant, cluster and station ids are levels of MQTT topics: the topic grammar fixes them.
ID_RE = f"^{ID_PATTERN.pattern}$"
# How a member factory's wastewater leaves it (SPEC "Clusters"): into the cluster's network to
# the central plant, through its own treatment, or untreated outside the network.
Connection = Literal["connected", "own_treatment", "not_connected"]
CONNECTION_STATION = "connection"  # a factory's monitoring station (SPEC)
FLOW_KEYS = ("flow_in", "flow_out", "flow_bypass")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`"5m"`, `"6h"`, `"30s"`, `"2d"` → timedelta; raises ValueError on anything else."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 5m, 6h, 2d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def check_duration(value: str) -> str:
    """`value` when `parse_duration` reads it (the validator of a duration config key)."""
    parse_duration(value)
    return value


# A duration config key ("48h"), checked when the config is read.
Duration = Annotated[str, AfterValidator(check_duration)]


class RangeLimit(BaseModel):
    """A two-sided permit limit (pH)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RangeLimit:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


def field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error about `field` (a path below the model being validated), so the config
    error names e.g. `plants[2].limits` rather than the model alone."""
    return PydanticCustomError("config_field", "{field}: {message}",
                               {"field": field, "message": message})


def _limit_form(value: object) -> str:
    return "range" if isinstance(value, dict | RangeLimit) else "max"


# A permit override: a maximum (finite, positive) or a min/max range. The discriminator makes
# a bad value report the one form it was written in ("limits.cod.max: ..."), not both.
PermitLimit = Annotated[
    Annotated[float, Field(gt=0, allow_inf_nan=False), Tag("max")]
    | Annotated[RangeLimit, Tag("range")],
    Discriminator(_limit_form),
]


class ReceivingWater(BaseModel):
    """The water body the outfall discharges into; gives Kq when the permit names none.

    `flow_m3_s` (rivers: average of the driest 3 months) or `volume_m3` (lakes) pick the band;
    without them the regulation's no-data value applies.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["river", "lake", "coastal_aquatic", "coastal_other"]
    flow_m3_s: float | None = Field(default=None, ge=0)
    volume_m3: float | None = Field(default=None, ge=0)


class PermitChange(BaseModel):
    """A permit amendment applying from `effective` (plant-local midnight) onwards.

    Fields left out keep their earlier value; `limits` are merged over the earlier overrides.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    effective: date
    regulation: str | None = None
    column: Literal["A", "B", "C"] | None = None
    kq: float | None = Field(default=None, gt=0)
    limits: dict[str, PermitLimit] = Field(default_factory=dict)


class Plant(BaseModel):
    """One plant: identity, permit terms and monitored stations/parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(pattern=ID_RE)
    cluster: str = Field(pattern=ID_RE)
    name: str
    timezone: str = "Asia/Ho_Chi_Minh"
    design_flow_m3_day: float = Field(gt=0)
    regulation: str = Field(
        default="qcvn40-2011",
        description="regulation id; a factory may leave it out when `limits` cover every "
        "parameter it monitors (its connection limits)")
    # A/B for QCVN 40:2011; QCVN 40:2025 drafts add C (checked against the regulation data).
    column: Literal["A", "B", "C"] = "B"
    kq: float | None = Field(default=None, gt=0)  # wins over receiving_water when both given
    interval: str = "5m"
    stations: dict[str, list[str]]
    limits: dict[str, PermitLimit] = Field(
        default_factory=dict, description="permit overrides (a connected factory: the "
        "cluster's connection limits), a max or {min, max}")
    receiving_water: ReceivingWater | None = None
    permit_changes: tuple[PermitChange, ...] = ()
    kind: Literal["plant", "factory"] = Field(
        default="plant", description="`factory`: a member factory with its own monitoring "
        "station `connection` (flow_out + quality), judged against `limits`")
    discharges_to: str | None = Field(
        default=None, pattern=ID_RE,
        description="factories: the central plant id its wastewater goes to (absent: it "
        "treats and discharges itself)")
    connection: Connection | None = Field(
        default=None,
        description="factories: connected (needs discharges_to), own_treatment or "
        "not_connected (discharges untreated outside the network); default: connected with "
        "discharges_to, else own_treatment")

    @model_validator(mode="before")
    @classmethod
    def _connection_limits_in_full(cls, data: object) -> object:
        # Only a raw document tells whether `regulation` was left out (SPEC: a factory may omit
        # it when its connection limits cover every monitored parameter).
        if not (isinstance(data, dict) and data.get("kind") == "factory"
                and "regulation" not in data):
            return data
        stations, limits = data.get("stations"), data.get("limits", {})
        if not isinstance(stations, dict) or not isinstance(limits, dict):
            return data  # field validation names the bad shape
        monitored = dict.fromkeys(
            key for keys in stations.values() if isinstance(keys, list)
            for key in keys if key not in FLOW_KEYS)
        missing = [key for key in monitored if key not in limits]
        if missing:
            raise field_error(
                "limits", "a factory without a regulation needs connection limits for every "
                f"monitored parameter (missing: {', '.join(missing)})")
        return data

    @model_validator(mode="after")
    def _factory_terms(self) -> Plant:
        if self.kind == "plant":
            for name in ("discharges_to", "connection"):
                if getattr(self, name) is not None:
                    raise field_error(name, 'only a kind = "factory" entry takes this key')
            return self
        if "flow_out" not in self.stations.get(CONNECTION_STATION, []):
            raise field_error("stations", f"a factory needs a {CONNECTION_STATION!r} station "
                              "measuring flow_out")
        if self.connection == "connected" and self.discharges_to is None:
            raise field_error("discharges_to", "a connected factory names the central plant "
                              "it discharges to")
        if self.connection not in (None, "connected") and self.discharges_to is not None:
            raise field_error("discharges_to", f"a factory that is {self.connection} "
                              "discharges to no plant")
        return self

    @property
    def connection_status(self) -> Connection | None:
        """A factory's connection (given, or implied by `discharges_to`); None for a plant."""
        if self.kind == "plant":
            return None
        if self.connection is not None:
            return self.connection
        return "connected" if self.discharges_to is not None else "own_treatment"

    @model_validator(mode="after")
    def _permit_terms(self) -> Plant:
        # Imported here: regulation data is only needed once a plant is validated.
        from rules.errors import RulesError
        from rules.regulation import load_regulation

        dates = [c.effective for c in self.permit_changes]
        if dates != sorted(set(dates)):
            raise ValueError("permit_changes must have distinct effective dates, in order")
        regulation, column = self.regulation, self.column
        for change in (None, *self.permit_changes):
            if change is not None:
                regulation = change.regulation or regulation
                column = change.column or column
            try:
                table = load_regulation(regulation)
            except RulesError as exc:
                raise ValueError(str(exc)) from exc
            if column not in table.columns:
                raise ValueError(
                    f"column {column!r} not in {regulation} (columns: {', '.join(table.columns)})"
                )
            if not table.table_loaded and not self.limits:
                raise ValueError(
                    f"{regulation}: official limit table not loaded; give the limits from the "
                    "permit in [plants.limits]"
                )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("stations")
    @classmethod
    def _station_ids(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for station, keys in value.items():
            if not re.match(ID_RE, station):
                raise ValueError(f"bad station id {station!r}")
            for key in keys:
                if not re.match(r"^[a-z][a-z0-9_]{0,63}$", key):
                    raise ValueError(f"bad parameter key {key!r} in station {station!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def interval_delta(self) -> timedelta:
        return parse_duration(self.interval)
