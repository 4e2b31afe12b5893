"""Effective limits: the regulation's C values after Kq/Kf, merged with permit overrides.

`Cmax = C × Kq × Kf` (QCVN 40:2011) except for the coefficient-exempt parameters; a permit
override always wins. Each limit remembers where it came from, for reports; the words for that
(and for the notes on defaults) come from `rules.vocabulary` in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from rules.errors import RulesError
from rules.permit import Plant, RangeLimit
from rules.regulation import Regulation, load_regulation
from rules.series import to_ns
from rules.vocabulary import Vocabulary

CATALOG_REGULATION = "qcvn40-2011"  # units of override keys a regulation's table lacks


@dataclass(frozen=True, slots=True)
class Limit:
    """One parameter's effective limit; `source` says regulation or permit, for reports, and
    `exempt` that the regulation's Kq/Kf do not apply to this parameter."""

    key: str
    unit: str
    max: float | None
    min: float | None = None
    source: str = "regulation"
    exempt: bool = False
    confidence: str | None = None

    def __post_init__(self) -> None:
        if self.max is None and self.min is None:
            raise RulesError(f"limit {self.key!r} has neither min nor max")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise RulesError(f"limit {self.key!r}: min {self.min} above max {self.max}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.min is not None:
            out["min"] = float(self.min)
        if self.max is not None:
            out["max"] = float(self.max)
        out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class LimitNote:
    """How a limit set was derived where a person should know it (a default used, a
    coefficient ignored); `code` names its words in the vocabulary's [limit_notes]."""

    code: str
    regulation: str = ""
    kq: float | None = None
    kf: float | None = None
    water: str = ""

    def text(self, words: Vocabulary) -> str:
        return words.limit_note(self.code, regulation=self.regulation, kq=self.kq, kf=self.kf,
                                water=self.water)


@dataclass(frozen=True, slots=True)
class EffectiveLimits:
    """All limits of one plant/column at one time, with the coefficients used."""

    regulation: str
    column: str
    kq: float | None
    kf: float | None
    limits: dict[str, Limit]
    notes: tuple[LimitNote, ...] = field(default=())

    def get(self, key: str) -> Limit | None:
        return self.limits.get(key)

    def source_text(self, key: str, words: Vocabulary, *, confidence: bool = True) -> str:
        """Where the limit of `key` comes from, in `words`' language, with its confidence mark
        unless told not to: "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0 [C]", "giấy phép"."""
        limit = self.limits[key]
        text = words.limit_origin(limit.source, self.regulation, self.column, self.kq, self.kf,
                                  exempt=limit.exempt)
        return f"{text} [{limit.confidence}]" if confidence and limit.confidence else text

    def to_json(self) -> dict[str, Any]:
        """SPEC `limits --json` document."""
        return {
            "regulation": self.regulation,
            "column": self.column,
            "kq": self.kq,
            "kf": self.kf,
            "limits": {key: limit.to_json() for key, limit in self.limits.items()},
        }


def _round(value: float) -> float:
    # Products like 150 × 0.9 carry binary noise; 9 decimals keep every table value exact.
    return round(value, 9)


def _override(
    key: str, value: float | RangeLimit | Mapping[str, Any], base: Limit | None, unit: str
) -> Limit:
    """A permit override merged over the regulation limit (fields given win)."""
    if isinstance(value, Mapping):
        value = RangeLimit.model_validate(dict(value))
    if isinstance(value, RangeLimit):
        lo = value.min if value.min is not None else (base.min if base else None)
        hi = value.max if value.max is not None else (base.max if base else None)
    else:
        lo, hi = (base.min if base else None), float(value)
    return Limit(key=key, unit=unit, max=hi, min=lo, source="permit")


def effective_limits(
    regulation: str,
    column: str,
    kq: float | None = None,
    flow_m3_day: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    on: date | None = None,
) -> EffectiveLimits:
    """Cmax for every table row of `regulation`/`column`, then permit `overrides` on top.

    Kq defaults to 1.0 and Kf to 1.0 when not given (noted in `notes`); regulations without
    coefficients (QCVN 40:2025) report kq/kf as None. Raises RulesError on unknown ids/columns.
    """
    table = load_regulation(regulation)
    if column not in table.columns:
        raise RulesError(
            f"column {column!r} not in {regulation} (columns: {', '.join(table.columns)})"
        )
    if on is not None:
        table.check_in_force(on)
    if kq is not None and kq <= 0:
        raise RulesError(f"kq must be positive, got {kq}")
    notes: list[LimitNote] = []
    kq_used: float | None = None
    kf_used: float | None = None
    if table.uses_coefficients:
        kq_used = 1.0 if kq is None else float(kq)
        if kq is None:
            notes.append(LimitNote("kq_default", kq=kq_used))
        kf_used = 1.0 if flow_m3_day is None else table.kf_for(flow_m3_day)
        if flow_m3_day is None:
            notes.append(LimitNote("kf_default", kf=kf_used))
    elif kq is not None:
        notes.append(LimitNote("kq_ignored", regulation=regulation, kq=float(kq)))
    limits = {p.key: lim for p in table.parameters
              if (lim := _table_limit(table, p.key, column, flow_m3_day, kq_used, kf_used))}
    if overrides:
        catalog = table if table.table_loaded else load_regulation(CATALOG_REGULATION)
        for key, value in overrides.items():
            row = table.parameter(key) or catalog.parameter(key)
            limits[key] = _override(key, value, limits.get(key), row.unit if row else "")
    if not table.table_loaded:
        notes.append(LimitNote("table_not_loaded", regulation=regulation))
        if not overrides:
            raise RulesError(
                f"{regulation}: official limit table not loaded yet; "
                "give the limits from the permit ([plants.limits])"
            )
    return EffectiveLimits(
        regulation=regulation, column=column, kq=kq_used, kf=kf_used,
        limits=limits, notes=tuple(notes),
    )


def _table_limit(
    table: Regulation, key: str, column: str, flow: float | None,
    kq: float | None, kf: float | None,
) -> Limit | None:
    row = table.parameter(key)
    bound = row.bound(column, flow) if row else None
    if row is None or bound is None:
        return None
    factor = 1.0
    exempt = table.uses_coefficients and table.exempt(key)
    if table.uses_coefficients and kq is not None and kf is not None and not exempt:
        factor = kq * kf
    hi = None if bound.max is None else _round(bound.max * factor)
    return Limit(key=key, unit=row.unit, max=hi, min=bound.min, source="regulation",
                 exempt=exempt, confidence=row.confidence.get(column))


def permit_terms(plant: Plant, on: date) -> tuple[str, str, float | None, dict[str, Any]]:
    """(regulation, column, kq, overrides) in force on `on` after the permit's changes."""
    regulation, column, kq = plant.regulation, plant.column, plant.kq
    overrides: dict[str, Any] = dict(plant.limits)
    for change in plant.permit_changes:
        if change.effective > on:
            break
        regulation = change.regulation or regulation
        column = change.column or column
        kq = change.kq if change.kq is not None else kq
        overrides.update(change.limits)
    return regulation, column, kq, overrides


def plant_limits(plant: Plant, on: date) -> EffectiveLimits:
    """The plant's limits in force on `on` (plant-local date): permit changes up to `on`
    applied, Kq from the permit or else from the receiving water, Kf from the design flow."""
    regulation, column, kq, overrides = permit_terms(plant, on)
    notes: list[LimitNote] = []
    if kq is None and plant.receiving_water is not None:
        water = plant.receiving_water
        table = load_regulation(regulation)
        if table.uses_coefficients:
            kq = table.kq_for(water.type, water.flow_m3_s, water.volume_m3)
            notes.append(LimitNote("kq_from_water", kq=kq, water=water.type))
    limits = effective_limits(
        regulation, column, kq=kq, flow_m3_day=plant.design_flow_m3_day,
        overrides=overrides, on=on,
    )
    judged = limits.limits
    if plant.connection_status == "connected":
        # REGULATIONS.md §1: a member factory discharging into the cluster network follows the
        # cluster operator's connection rules, not QCVN 40 directly.
        judged = {key: replace(lim, source="connection") if lim.source == "permit" else lim
                  for key, lim in judged.items()}
        notes.append(LimitNote("connection_rules", regulation=regulation))
    return EffectiveLimits(
        regulation=limits.regulation, column=limits.column, kq=limits.kq, kf=limits.kf,
        limits=judged, notes=(*notes, *limits.notes),
    )


@dataclass(frozen=True, slots=True)
class LimitSchedule:
    """Limits over time: `starts[i]` (aware) is when `limits[i]` takes over."""

    starts: tuple[datetime, ...]
    limits: tuple[EffectiveLimits, ...]

    def keys(self) -> list[str]:
        """Every parameter limited in any period, in first-seen order."""
        seen: dict[str, None] = {}
        for lim in self.limits:
            seen.update(dict.fromkeys(lim.limits))
        return list(seen)


def limit_schedule(plant: Plant, start: datetime, end: datetime) -> LimitSchedule:
    """The plant's limits for [start, end): one period per permit change (local midnight)."""
    zone = plant.zone
    first = start.astimezone(zone).date()
    starts = [datetime.min.replace(tzinfo=zone)]
    limits = [plant_limits(plant, first)]
    for change in plant.permit_changes:
        at = datetime.combine(change.effective, time(0), tzinfo=zone)
        if change.effective <= first or at >= end:
            continue
        starts.append(at)
        limits.append(plant_limits(plant, change.effective))
    return LimitSchedule(starts=tuple(starts), limits=tuple(limits))


def render_limits_text(limits: EffectiveLimits) -> str:
    """Human-readable table for `quantrac limits` (English): limit, unit and source per
    parameter, under the regulation's designation, column and coefficients."""
    words = Vocabulary.for_lang("en")
    terms = words.regulation_terms(limits.regulation, limits.column)
    coeff = "no Kq/Kf" if limits.kq is None else (
        f"Kq {words.format_coefficient(limits.kq)}, Kf {words.format_coefficient(limits.kf)}")
    lines = [f"{terms} — {coeff}", ""]
    width = max([len(k) for k in limits.limits] + [9])
    lines.append(f"{'parameter':<{width}}  {'limit':>14}  {'unit':<10}  source")
    for key, lim in limits.limits.items():
        text = words.format_limit(lim.min, lim.max)
        source = limits.source_text(key, words)
        lines.append(f"{key:<{width}}  {text:>14}  {lim.unit or '-':<10}  {source}")
    for note in limits.notes:
        lines.append(f"note: {note.text(words)}")
    return "\n".join(lines) + "\n"


def schedule_bounds(
    schedule: LimitSchedule, key: str, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of `key` in force at each time (UTC ns); NaN where there is no such bound."""
    edges = np.array(
        [np.iinfo(np.int64).min] + [to_ns(s) for s in schedule.starts[1:]], dtype=np.int64
    )
    lows = np.array([_bound(lim, key, "min") for lim in schedule.limits], dtype=np.float64)
    highs = np.array([_bound(lim, key, "max") for lim in schedule.limits], dtype=np.float64)
    period = np.searchsorted(edges, times, side="right") - 1
    period = np.clip(period, 0, len(edges) - 1)
    return lows[period], highs[period]


def _bound(limits: EffectiveLimits, key: str, side: str) -> float:
    limit = limits.get(key)
    value = None if limit is None else (limit.min if side == "min" else limit.max)
    return np.nan if value is None else float(value)


def single_schedule(limits: EffectiveLimits) -> LimitSchedule:
    """A schedule holding one set of limits for all time."""
    return LimitSchedule(starts=(datetime.min.replace(tzinfo=UTC),), limits=(limits,))
