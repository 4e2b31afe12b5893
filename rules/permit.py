"""A plant as its environmental permit describes it (the fixed `[[plants]]` config core)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`"5m"`, `"6h"`, `"30s"`, `"2d"` → timedelta; raises ValueError on anything else."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 5m, 6h, 2d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class RangeLimit(BaseModel):
    """A two-sided permit limit (pH)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


class Plant(BaseModel):
    """One plant: identity, permit terms and monitored stations/parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_RE)
    cluster: str = Field(pattern=ID_RE)
    name: str
    timezone: str = "Asia/Ho_Chi_Minh"
    design_flow_m3_day: float = Field(gt=0)
    regulation: str = "qcvn40-2011"
    column: Literal["A", "B"] = "B"
    kq: float | None = Field(default=None, gt=0)
    interval: str = "5m"
    stations: dict[str, list[str]]
    limits: dict[str, float | RangeLimit] = Field(default_factory=dict)

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
