"""The one bilingual vocabulary (vi/en): every word a person reads, and how numbers and dates look.

Alerts, reports and the console take their words from here, so a parameter, a unit or a date
reads the same in a message, a PDF and a web page. The words are data
(rules/data/vocabulary/terms.toml, both languages side by side); regulation designations come
from the regulation files (rules/data/<id>.toml). Sentences of one output (a report's headings,
an alert's template) stay with that output and put these words into them.

    words = Vocabulary.for_lang("vi")              # "vi" | "en"; anything else: RulesError
    words.parameter("nh4_n")                       # "Amoni (tính theo N)"; unknown key: the key
    words.unit("cod")                              # "mg/L" (the same in both languages)
    words.station("outlet"), words.kind(...), words.basis(...), words.severity(...),
    words.alert_state(...), words.alert_event(...), words.reason(...), words.receiving_water(...)
    words.device_status("01")                      # "Đang hiệu chuẩn" (Circular 10 status codes)
    words.reason_choices()                         # ((code, word), ...) in SPEC order, for a form
    words.connection("not_connected")              # "Chưa đấu nối"
    words.cluster_term("collection_ratio")         # "Tỷ lệ thu gom"
    words.target(None)                             # "Chưa đánh giá được" (True "Đạt")
    words.in_sentence("Amoni (tính theo N)")       # "amoni (tính theo N)"; "COD", "pH" unchanged
    words.designation("qcvn40-2011")               # "QCVN 40:2011/BTNMT"
    words.regulation_terms("qcvn40-2011", "B", 0.9, 1.0)
                                                   # "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0"
    words.limit_origin("permit", ...)              # "giấy phép" (see EffectiveLimits.source_text)
    words.limit_note("kq_default", kq=1.0)         # "chưa khai báo Kq: dùng Kq 1,0 (...)"
    words.collection_note(note)                    # a collection shortfall's explanation
    words.format_number(1500.5, 1)                 # "1.500,5" (en "1,500.5"): fixed decimals
    words.format_decimal(135.0)                    # "135"; 5.5 -> "5,5": shortest exact decimal
    words.format_coefficient(1.0)                  # "1,0": Kq/Kf as the regulation writes them
    words.format_percent(0.975)                    # "97,5 %"
    words.format_limit(5.5, 9.0, "")               # "5,5–9"; (None, 135.0, "mg/L") -> "≤ 135 mg/L"
    words.format_date(date(2026, 10, 1))           # "01/10/2026" (en "2026-10-01")
    words.format_datetime(moment, zone)            # "01/10/2026 14:05" (en "2026-10-01 14:05")
    words.format_period(start, end, zone)          # "tháng 10/2026" (en "October 2026"),
                                                   # "01/10/2026 – 07/10/2026" (end exclusive)

Missing values (None, NaN) format as "" so a table cell stays empty.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rules.errors import RulesError
from rules.findings import BASES, FRACTION_KINDS, KINDS, SEVERITIES, CollectionNote
from rules.regulation import load_regulation

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
_PHRASES = ("column", "coefficients", "no_coefficients", "permit", "connection")
# The clauses of a collection_shortfall's note (rules.findings.CollectionNote).
_NOTES = ("volumes", "no_central", "not_connected", "member_volume", "left_out", "inlet_meter",
          "culprit", "network")
# How a member factory's wastewater leaves it (rules.permit.Connection).
_CONNECTIONS = ("connected", "own_treatment", "not_connected")
# The words of a cluster's ledger and of the province roll-up (reports, console).
_CLUSTER_TERMS = (
    "cluster", "province", "central_plant", "no_central_plant", "member_factories",
    "metered", "declared", "declared_flow", "discharged", "generated", "collected",
    "treated_compliant", "collection_ratio", "treatment_ratio", "target_met", "met", "not_met",
    "not_judged", "reporting", "not_reporting", "yes", "no",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Word(_Model):
    """One term in both languages."""

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ParameterWord(Word):
    """A parameter's name in both languages and its unit symbol ("" for none, as pH)."""

    unit: str


class LanguageFormat(_Model):
    """How one language writes numbers, dates and periods (strftime and str.format patterns)."""

    decimal_mark: str = Field(min_length=1, max_length=1)
    group_mark: str = Field(min_length=1, max_length=1)
    date_pattern: str
    datetime_pattern: str
    month_pattern: str  # fields {month_name} and {year}
    range_pattern: str  # fields {start} and {end}
    month_names: tuple[str, ...] = Field(min_length=12, max_length=12)


class Terms(_Model):
    """The whole vocabulary file, validated: every word has both languages."""

    formats: dict[Lang, LanguageFormat]
    parameters: dict[str, ParameterWord]
    stations: dict[str, Word]
    kinds: dict[str, Word]
    bases: dict[str, Word]
    severities: dict[str, Word]
    alert_states: dict[str, Word]
    alert_events: dict[str, Word]
    plant_statuses: dict[str, Word]
    device_statuses: dict[str, Word]
    reasons: dict[str, Word]
    receiving_waters: dict[str, Word]
    phrases: dict[str, Word]
    limit_notes: dict[str, Word]
    notes: dict[str, Word]
    connections: dict[str, Word]
    cluster_terms: dict[str, Word]

    @model_validator(mode="after")
    def _complete(self) -> Terms:
        if set(self.formats) != set(LANGS):
            raise ValueError(f"formats must be given for exactly {LANGS}")
        for name, codes, table in (("kinds", KINDS, self.kinds), ("bases", BASES, self.bases),
                                   ("severities", SEVERITIES, self.severities)):
            missing = set(codes) - set(table)
            if missing:
                raise ValueError(f"{name}: no words for {sorted(missing)}")
        if set(self.phrases) != set(_PHRASES):
            raise ValueError(f"phrases must be exactly {_PHRASES}")
        tables: tuple[tuple[str, tuple[str, ...], dict[str, Word]], ...] = (
            ("notes", _NOTES, self.notes),
            ("connections", _CONNECTIONS, self.connections),
            ("cluster_terms", _CLUSTER_TERMS, self.cluster_terms))
        for name, required, given in tables:
            if set(given) != set(required):
                raise ValueError(f"{name} must be exactly {required}")
        return self


@functools.cache
def _mark_table(group: str, decimal: str) -> dict[int, str]:
    """The translation of Python's group and decimal marks (made once per language)."""
    return {ord(","): group, ord("."): decimal}


@functools.cache
def load_terms() -> Terms:
    """The shipped vocabulary (parsed once: the file is read-only and the model frozen)."""
    path = resources.files("rules").joinpath("data", "vocabulary", "terms.toml")
    try:
        return Terms.model_validate(tomllib.loads(path.read_text("utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise RulesError(f"rules/data/vocabulary/terms.toml: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words and number/date conventions of one language (see the module docstring)."""

    lang: Lang
    terms: Terms = field(repr=False)

    @classmethod
    def for_lang(cls, lang: str) -> Vocabulary:
        """The vocabulary of `lang` ("vi" or "en"); raises RulesError for any other language."""
        for known in LANGS:
            if lang == known:
                return cls(known, load_terms())
        raise RulesError(f"unsupported language {lang!r} (use one of {', '.join(LANGS)})")

    # -- words ----------------------------------------------------------------------------

    def _word(self, table: Mapping[str, Word], key: str) -> str:
        entry = table.get(key)
        return key if entry is None else entry.vi if self.lang == "vi" else entry.en

    def parameter(self, key: str) -> str:
        """Display name of a parameter key; unknown keys are shown as they are."""
        return self._word(self.terms.parameters, key)

    def unit(self, key: str) -> str:
        """Unit symbol of a parameter key ("" when it has none or is unknown)."""
        entry = self.terms.parameters.get(key)
        return "" if entry is None else entry.unit

    def station(self, key: str) -> str:
        return self._word(self.terms.stations, key)

    def kind(self, key: str) -> str:
        return self._word(self.terms.kinds, key)

    def basis(self, key: str) -> str:
        return self._word(self.terms.bases, key)

    def severity(self, key: str) -> str:
        return self._word(self.terms.severities, key)

    def alert_state(self, key: str) -> str:
        return self._word(self.terms.alert_states, key)

    def alert_event(self, key: str) -> str:
        return self._word(self.terms.alert_events, key)

    def plant_status(self, key: str) -> str:
        """A plant's overall status as the console shows it (compliant, exceedance, ...)."""
        return self._word(self.terms.plant_statuses, key)

    def device_status(self, code: str) -> str:
        """A device status code as words ("00" measuring, "01" calibrating, "02" error)."""
        return self._word(self.terms.device_statuses, code)

    def reason(self, key: str) -> str:
        """Word of an acknowledgement reason code (maintenance, calibration, …)."""
        return self._word(self.terms.reasons, key)

    def reason_choices(self) -> tuple[tuple[str, str], ...]:
        """Every acknowledgement reason as (code, word), in the order a form offers them."""
        return tuple((code, self.reason(code)) for code in self.terms.reasons)

    def receiving_water(self, key: str) -> str:
        return self._word(self.terms.receiving_waters, key)

    def connection(self, key: str) -> str:
        """How a member factory's wastewater leaves it (connected, own_treatment, …)."""
        return self._word(self.terms.connections, key)

    def cluster_term(self, key: str) -> str:
        """A word of the cluster ledger or the province roll-up (generated, collected, …)."""
        entry = self.terms.cluster_terms.get(key)
        if entry is None:
            raise RulesError(f"no cluster word {key!r}")
        return entry.vi if self.lang == "vi" else entry.en

    def target(self, met: bool | None) -> str:
        """Whether a cluster met the 100 % target: met, not met, or not judged (None)."""
        return self.cluster_term("not_judged" if met is None else "met" if met else "not_met")

    @staticmethod
    def in_sentence(name: str) -> str:
        """`name` as it reads inside a sentence: a capitalised first word is lowered
        ("Amoni …" -> "amoni …"); symbols and acronyms ("COD", "pH", "BOD5") stay."""
        if len(name) >= 2 and name[0].isupper() and name[1].islower():
            return name[0].lower() + name[1:]
        return name

    # -- regulations ----------------------------------------------------------------------

    def designation(self, regulation: str) -> str:
        """The official designation of a shipped regulation id ("QCVN 40:2011/BTNMT")."""
        return load_regulation(regulation).designation

    def regulation_terms(
        self, regulation: str, column: str, kq: float | None = None, kf: float | None = None,
        *, exempt: bool = False,
    ) -> str:
        """Designation, column and coefficients: "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0";
        `exempt` says the parameter takes no Kq/Kf although the regulation has them."""
        phrases = self.terms.phrases
        text = f"{self.designation(regulation)} " + self._word(phrases, "column").format(
            column=column)
        if exempt:
            return f"{text} ({self._word(phrases, 'no_coefficients')})"
        if kq is not None and kf is not None:
            return f"{text} × " + self._word(phrases, "coefficients").format(
                kq=self.format_coefficient(kq), kf=self.format_coefficient(kf))
        return text

    def limit_origin(
        self, source: str, regulation: str, column: str, kq: float | None = None,
        kf: float | None = None, *, exempt: bool = False,
    ) -> str:
        """Where a limit comes from: the permit ("giấy phép") or the regulation's terms."""
        if source in ("permit", "connection"):
            return self._word(self.terms.phrases, source)
        return self.regulation_terms(regulation, column, kq, kf, exempt=exempt)

    def limit_note(
        self, code: str, *, regulation: str = "", kq: float | None = None,
        kf: float | None = None, water: str = "",
    ) -> str:
        """A note on how limits were derived (codes in the [limit_notes] table)."""
        entry = self.terms.limit_notes.get(code)
        if entry is None:
            raise RulesError(f"no words for limit note {code!r}")
        template = entry.vi if self.lang == "vi" else entry.en
        return template.format(
            regulation=self.designation(regulation) if regulation else "",
            kq=self.format_coefficient(kq), kf=self.format_coefficient(kf),
            water=self.receiving_water(water),
        )

    # -- notes ----------------------------------------------------------------------------

    def collection_note(self, note: CollectionNote) -> str:
        """A collection shortfall's explanation as one line: volumes, members not connected,
        hours left out for silent meters, the member (or the network) the missing water
        follows."""
        notes = self.terms.notes

        def clause(code: str, **values: str) -> str:
            return self._word(notes, code).format(**values)

        def m3(value: float) -> str:
            return self.format_number(value, 0)

        parts = [clause("volumes", generated=m3(note.generated_m3), metered=m3(note.metered_m3),
                        declared=m3(note.declared_m3), collected=m3(note.collected_m3))]
        if not note.central:
            parts.append(clause("no_central"))
        if note.unconnected:
            parts.append(clause("not_connected", members=", ".join(
                clause("member_volume", member=member, volume=m3(volume))
                for member, volume in note.unconnected)))
        if note.left_out_hours:
            meters = [*note.silent,
                      *([clause("inlet_meter", plant=note.silent_inlet)]
                        if note.silent_inlet else [])]
            parts.append(clause("left_out", hours=str(note.left_out_hours),
                                meters=", ".join(meters)))
        if note.culprit:
            parts.append(clause("culprit", member=note.culprit,
                                share=self.format_number(100 * note.culprit_share, 0),
                                volume=m3(note.culprit_m3)))
        elif note.network:
            parts.append(clause("network"))
        return "; ".join(parts)

    # -- numbers --------------------------------------------------------------------------

    @property
    def _format(self) -> LanguageFormat:
        return self.terms.formats[self.lang]

    def _marks(self, text: str) -> str:
        """Python's `1,500.5` written with this language's group and decimal marks."""
        fmt = self._format
        return text.translate(_mark_table(fmt.group_mark, fmt.decimal_mark))

    def format_number(self, value: float | None, digits: int = 2) -> str:
        """`value` with `digits` decimals and grouped thousands; "" for a missing value."""
        if value is None or math.isnan(value):
            return ""
        return self._marks(f"{value:,.{digits}f}")

    def format_decimal(
        self, value: float | None, max_digits: int | None = None, min_digits: int = 0
    ) -> str:
        """The shortest decimal that is exactly `value` (135 -> "135", 5.5 -> "5,5"), rounded
        to `max_digits` decimals when given and padded to `min_digits`; "" when missing."""
        if value is None or math.isnan(value):
            return ""
        number = float(value) if max_digits is None else round(float(value), max_digits)
        if math.isinf(number):
            return "−∞" if number < 0 else "∞"
        if max_digits is not None:
            # Rounded already: grouped fixed notation with as many digits is the same text at
            # a fifth of the cost (a public page formats thousands of values).
            whole, _, fraction = f"{number + 0.0:,.{max_digits}f}".partition(".")
            fraction = fraction.rstrip("0").ljust(min_digits, "0")
            return self._marks(f"{whole}.{fraction}" if fraction else whole)
        text = format(Decimal(repr(number + 0.0)), "f")  # + 0.0 turns -0.0 into 0.0
        whole, _, fraction = text.partition(".")
        fraction = fraction.rstrip("0").ljust(min_digits, "0")
        sign = "-" if whole.startswith("-") else ""
        grouped = f"{sign}{int(whole.lstrip('-')):,}"
        return self._marks(f"{grouped}.{fraction}" if fraction else grouped)

    def format_coefficient(self, value: float | None) -> str:
        """A Kq/Kf coefficient with at least one decimal ("0,9", "1,0")."""
        return self.format_decimal(value, min_digits=1)

    def format_percent(self, fraction: float | None, digits: int = 1) -> str:
        """A 0..1 fraction as a percentage ("97,5 %"); "" when missing."""
        if fraction is None or math.isnan(fraction):
            return ""
        return f"{self.format_number(fraction * 100.0, digits)} %"

    def format_figure(self, kind: str, value: float | None, limit: bool = False) -> str:
        """A finding's value, or its limit, as a person reads it: a fraction kind's
        (completeness, treatment, collection) as a percentage ("0 %" of "75 %", not "0,00"
        of "0,75"), a measured value to 2 decimals, a limit as the permit writes it."""
        if kind in FRACTION_KINDS:
            return self.format_percent(value)
        return self.format_decimal(value) if limit else self.format_decimal(value, 2)

    def format_limit(self, low: float | None, high: float | None, unit: str = "") -> str:
        """A limit as a permit writes it: "≤ 135 mg/L", "5,5–9" (range), "≥ 6"; "" for none."""
        if low is None and high is None:
            return ""
        if low is not None and high is not None:
            text = f"{self.format_decimal(low)}–{self.format_decimal(high)}"
        elif high is not None:
            text = f"≤ {self.format_decimal(high)}"
        else:
            text = f"≥ {self.format_decimal(low)}"
        return f"{text} {unit}".strip()

    # -- dates ----------------------------------------------------------------------------

    def format_date(self, value: date | None) -> str:
        """A calendar date ("01/10/2026"; en "2026-10-01"); "" when missing."""
        return "" if value is None else value.strftime(self._format.date_pattern)

    def format_datetime(self, value: datetime | None, zone: tzinfo) -> str:
        """An aware time in `zone` ("01/10/2026 14:05"; en "2026-10-01 14:05"); "" if missing."""
        if value is None:
            return ""
        if value.tzinfo is None:
            raise RulesError(f"cannot show naive time {value.isoformat()} in a zone")
        return value.astimezone(zone).strftime(self._format.datetime_pattern)

    def format_month(self, year: int, month: int) -> str:
        """A calendar month ("tháng 10/2026"; en "October 2026")."""
        fmt = self._format
        return fmt.month_pattern.format(month_name=fmt.month_names[month - 1], year=year)

    def format_period(self, start: datetime, end: datetime, zone: tzinfo) -> str:
        """A reporting period `[start, end)` in `zone` as a person reads it: a calendar month,
        one day, a range of whole days (last day inclusive) or else a range of times."""
        first, after = start.astimezone(zone), end.astimezone(zone)
        midnight = first.time() == after.time() == datetime.min.time()
        if not midnight:
            return self._format.range_pattern.format(
                start=self.format_datetime(first, zone), end=self.format_datetime(after, zone))
        last = (after - timedelta(days=1)).date()
        months = (after.year - first.year) * 12 + after.month - first.month
        if first.day == 1 and after.day == 1 and months == 1:
            return self.format_month(first.year, first.month)
        if last == first.date():
            return self.format_date(last)
        return self._format.range_pattern.format(
            start=self.format_date(first.date()), end=self.format_date(last))
