"""Config section `[reports]` (and `[reports.circular10]`): report defaults and export layout.

The Circular 10 file layout is only a common practice [M, low confidence in REGULATIONS.md], so
every part of it can be changed here to whatever the receiving authority verifies.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.permit import Duration, parse_duration
from rules.vocabulary import Lang

CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
FILENAME_FIELDS = frozenset({"province", "facility", "station", "time"})
FORMATS = ("html", "pdf", "csv")
_SAFE_LITERAL = re.compile(r"^[A-Za-z0-9_.-]*$")

# Units of the parameters a WWTP commonly measures online (REGULATIONS.md Table 1; flows as
# in the SPEC wire format, m³/h). pH has no unit; "-" keeps the tab-separated field non-empty.
DEFAULT_UNITS = {
    "flow_in": "m3/h",
    "flow_out": "m3/h",
    "flow_bypass": "m3/h",
    "temperature": "°C",
    "color": "Pt-Co",
    "ph": "-",
    "bod5": "mg/L",
    "cod": "mg/L",
    "tss": "mg/L",
    "nh4_n": "mg/L",
    "total_n": "mg/L",
    "total_p": "mg/L",
    "coliform": "MPN/100mL",
}

# Upper-case parameter codes as data files from monitoring stations usually carry them.
DEFAULT_PARAMETER_NAMES = {
    "flow_in": "FlowIn",
    "flow_out": "Flow",
    "flow_bypass": "FlowBypass",
    "temperature": "Temp",
    "color": "Color",
    "ph": "pH",
    "bod5": "BOD5",
    "cod": "COD",
    "tss": "TSS",
    "nh4_n": "NH4",
    "total_n": "TN",
    "total_p": "TP",
    "coliform": "Coliform",
}


class Circular10Layout(BaseModel):
    """Layout of the Circular 10/2021 text files: names, codes, units and separators."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    province: str = Field(default="HN", pattern=CODE_RE)
    facility: str = Field(default="FACILITY", pattern=CODE_RE)
    # plant station id -> station code in the file name; unmapped stations use the id itself
    station_codes: dict[str, str] = Field(default_factory=dict)
    # parameter key -> name on the line; unmapped keys use DEFAULT_PARAMETER_NAMES, else the key
    parameter_names: dict[str, str] = Field(default_factory=dict)
    # parameter key -> unit on the line; unmapped keys use DEFAULT_UNITS, else "-"
    units: dict[str, str] = Field(default_factory=dict)
    separator: str = "\t"
    line_ending: Literal["\n", "\r\n"] = "\n"
    filename_pattern: str = "{province}_{facility}_{station}_{time}.txt"
    time_format: str = "%Y%m%d%H%M%S"
    decimals: int = Field(default=2, ge=0, le=9)
    encoding: Literal["utf-8", "ascii"] = "utf-8"
    # write a line for a parameter with no value but a 01/02 status (value field left empty)
    include_missing_with_status: bool = True

    @field_validator("station_codes")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for station, code in value.items():
            if not re.match(CODE_RE, code):
                raise ValueError(f"station code {code!r} for {station!r} must match {CODE_RE}")
        return value

    @field_validator("parameter_names", "units")
    @classmethod
    def _no_separators(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if any(ch in text for ch in "\t\r\n") or not text.strip():
                raise ValueError(f"value for {key!r} must be non-empty and have no tab/newline")
        return value

    @field_validator("separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        if not value or "\n" in value or "\r" in value:
            raise ValueError("separator must be non-empty and contain no newline")
        return value

    @field_validator("filename_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        fields: set[str] = set()
        for literal, name, spec, conv in string.Formatter().parse(value):
            if not _SAFE_LITERAL.match(literal):
                raise ValueError(f"file name pattern may use only [A-Za-z0-9_.-] ({value!r})")
            if name is not None:
                if name not in FILENAME_FIELDS or spec or conv:
                    raise ValueError(
                        f"file name pattern field {{{name}}} not one of {sorted(FILENAME_FIELDS)}"
                    )
                fields.add(name)
        if not {"station", "time"} <= fields:
            raise ValueError("file name pattern must contain {station} and {time}")
        if value.startswith("."):
            raise ValueError("file name pattern must not start with '.'")
        return value

    @field_validator("time_format")
    @classmethod
    def _time_format(cls, value: str) -> str:
        if not re.match(r"^(%[YmdHMS]|[0-9_-])+$", value):
            raise ValueError("time format may use only %Y %m %d %H %M %S, digits, '_' and '-'")
        return value

    def station_code(self, station: str) -> str:
        return self.station_codes.get(station, station)

    def parameter_name(self, key: str) -> str:
        return self.parameter_names.get(key, DEFAULT_PARAMETER_NAMES.get(key, key))

    def unit(self, key: str) -> str:
        return self.units.get(key, DEFAULT_UNITS.get(key, "-"))


class ProvinceSettings(BaseModel):
    """The province roll-up: when a cluster's online monitoring counts as reporting.

    No regulation fixes it (REGULATIONS.md §3 asks for continuous transmission and alerts on
    breaks), so these numbers are the operator's choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reporting_window: Duration = Field(
        default="24h", description="a monitored plant reports when its stations sent data in "
        "this span (SPEC: the last 24 h)")
    reporting_min_fraction: float = Field(
        default=0.75, gt=0.0, le=1.0, description="the share of the records its stations' "
        "interval expects in that span that counts as reporting (default: the share that "
        "makes a mean count, REGULATIONS.md §4)")
    reporting_reference: Literal["period_end", "now"] = Field(
        default="period_end", description="the window ends at the end of the reported month "
        "(at the time of the report while the month runs), or always at the time of the "
        "report")

    @property
    def window(self) -> timedelta:
        return parse_duration(self.reporting_window)


class ReportSettings(BaseModel):
    """`[reports]`: defaults of `quantrac report`, the scheduled report and its e-mailing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang = "vi"
    formats: tuple[Literal["html", "pdf", "csv"], ...] = ("html", "pdf", "csv")
    # where the scheduled (monthly) report is written
    out_dir: Path = Path("out/reports")
    # e-mail the PDF of a scheduled report through the alerts e-mail channel
    email_pdf: bool = False
    email_to: tuple[str, ...] = ()
    # stations whose parameters are judged against the discharge limits
    discharge_stations: tuple[str, ...] = ("outlet",)
    # a day whose valid/expected fraction is below this is marked incomplete
    min_completeness: float = Field(default=0.75, ge=0.0, le=1.0)
    circular10: Circular10Layout = Field(default_factory=Circular10Layout)
    province: ProvinceSettings = Field(default_factory=ProvinceSettings)

    @field_validator("email_to")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+$", address):
                raise ValueError(f"bad e-mail address {address!r}")
        return value

    @model_validator(mode="after")
    def _email_needs_recipients(self) -> ReportSettings:
        if self.email_pdf and not self.email_to:
            raise ValueError("email_pdf = true needs at least one address in email_to")
        return self
