"""The report model: everything a compliance report says, computed once, rendered many ways.

`build_report` is pure (no I/O, no clock): the readings frame, the plant, the rules'
`CheckResult`, the effective limits, the period and the alert book's episodes go in; a frozen
`Report` comes out. Compliance numbers (treatment volumes and ratios, episodes, completeness)
are taken from the `CheckResult` unchanged, so the report says what `check --json` says.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from reports.errors import ReportsError
from reports.labels import Labels, format_number, format_percent, labels_for
from rules.findings import Finding
from rules.frame import ID_COLUMNS, status_column, value_keys
from rules.permit import Plant
from rules.results import CheckResult, CompletenessRow, TreatmentRow

NONCOMPLIANCE_KINDS = ("exceedance", "below_minimum", "bypass", "treatment_shortfall")
LIMIT_KINDS = ("exceedance", "below_minimum")
DATA_KINDS = ("no_data", "insufficient_data", "sensor_fault")
PERIOD_BASES = ("month", "monthly_mean")


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One effective limit (after Kq/Kf and permit overrides) and where it comes from."""

    parameter: str
    min: float | None
    max: float | None
    unit: str
    source: str


@dataclass(frozen=True, slots=True)
class PlantInfo:
    """Plant identity and permit terms as printed on the report."""

    id: str
    name: str
    cluster: str
    timezone: str
    design_flow_m3_day: float
    regulation: str
    column: str
    kq: float | None
    kf: float | None


@dataclass(frozen=True, slots=True)
class ParameterSummary:
    """Circular 10 Art. 25 figures for one station's parameter over the period."""

    station: str
    parameter: str
    unit: str
    limit_min: float | None
    limit_max: float | None
    valid_count: int
    min: float | None
    mean: float | None
    max: float | None
    over_limit: int
    episodes: int
    episode_minutes: float
    worst_ratio: float | None
    expected: int
    valid: int
    calibrating_minutes: float
    error_minutes: float

    @property
    def completeness(self) -> float | None:
        return None if self.expected <= 0 else min(1.0, self.valid / self.expected)


@dataclass(frozen=True, slots=True)
class Episode:
    """A finding as a table row: the finding itself plus its duration."""

    finding: Finding

    @property
    def duration_minutes(self) -> float:
        return (self.finding.end - self.finding.start).total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class DayRow:
    """One plant-local day: treatment figures, daily means, exceedances and an assessment."""

    date: date
    treatment: TreatmentRow | None
    means: Mapping[str, float | None]
    over_limit: int
    episodes: int
    expected: int
    valid: int
    status: str  # "ok" | "violation" | "incomplete" | "no_data"

    @property
    def completeness(self) -> float | None:
        return None if self.expected <= 0 else min(1.0, self.valid / self.expected)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert episode from the alert book, with its acknowledgement."""

    id: str
    parameter: str
    kind: str
    severity: str
    state: str
    start: datetime | None
    end: datetime | None
    acked_by: str
    acked_at: datetime | None
    note: str


@dataclass(frozen=True, slots=True)
class Report:
    """A compliance report for one plant and period, in one language."""

    lang: str
    plant: PlantInfo
    start: datetime
    end: datetime
    period: str
    limits: tuple[LimitRow, ...]
    limit_notes: tuple[str, ...]
    verdict_status: str  # "compliant" | "compliant_incomplete" | "noncompliant" | "no_data"
    verdict: str
    treatment_days: tuple[TreatmentRow, ...]
    treatment_total: TreatmentRow | None
    parameters: tuple[ParameterSummary, ...]
    episodes: tuple[Episode, ...]
    days: tuple[DayRow, ...]
    day_parameters: tuple[str, ...]
    alerts: tuple[AlertRow, ...]
    notes: tuple[str, ...]
    generated_at: datetime
    software_version: str
    data_sha256: str
    data_rows: int
    discharge_stations: tuple[str, ...]
    # the plant's readings in the period (readings frame order) and their canonical CSV bytes
    readings: pd.DataFrame = field(repr=False, compare=False)
    data_csv: bytes = field(repr=False, compare=False)

    @property
    def labels(self) -> Labels:
        return labels_for(self.lang)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.plant.timezone)

    def limit(self, parameter: str) -> LimitRow | None:
        for row in self.limits:
            if row.parameter == parameter:
                return row
        return None


def software_version() -> str:
    """The installed quantrac version (importlib.metadata), or "unknown" outside an install."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("quantrac")
    except PackageNotFoundError:
        return "unknown"


def period_label(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """`2026-10` for a calendar month, `2026-10-05` for one day, else `20261001-20261015`.

    `end` is exclusive; the label uses plant-local dates.
    """
    local_start = start.astimezone(zone)
    local_end = end.astimezone(zone)
    midnight = local_start.time() == datetime.min.time() == local_end.time()
    if midnight and local_start.day == 1 and local_end.day == 1:
        months = (local_end.year - local_start.year) * 12 + local_end.month - local_start.month
        if months == 1:
            return f"{local_start:%Y-%m}"
    last_day = (local_end - timedelta(microseconds=1)).date()
    if midnight and last_day == local_start.date():
        return f"{local_start:%Y-%m-%d}"
    return f"{local_start:%Y%m%d}-{last_day:%Y%m%d}"


def canonical_csv(frame: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a readings frame, the input of the report's SHA-256.

    Columns `time,plant,station`, then the parameter keys in sorted order, then their
    `<key>_status` columns in the same order; rows sorted by time then station; time in UTC as
    `YYYY-MM-DDTHH:MM:SSZ`; values as the shortest decimal that round-trips the float (Python
    `repr`), empty when missing; statuses as integers 0/1/2; UTF-8, `\\n` line ends, no quoting.
    """
    keys = sorted(value_keys(frame))
    columns = [*ID_COLUMNS, *keys, *(status_column(k) for k in keys)]
    if frame.empty:
        return (",".join(columns) + "\n").encode("utf-8")
    data = frame.sort_values(["time", "station"], kind="stable")
    out = pd.DataFrame(
        {
            "time": data["time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "plant": data["plant"].astype(str),
            "station": data["station"].astype(str),
        }
    )
    for key in keys:
        out[key] = [_decimal(v) for v in data[key].to_numpy(dtype="float64")]
    for key in keys:
        name = status_column(key)
        if name in data.columns:
            out[name] = data[name].fillna(0).astype("int64").to_numpy()
        else:
            out[name] = 0
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n", quoting=3)  # csv.QUOTE_NONE
    return buffer.getvalue().encode("utf-8")


def _decimal(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def normalize_limits(
    limits: Any,
) -> tuple[dict[str, LimitRow], float | None, float | None]:
    """Effective limits in any of the shapes the rules provide -> rows, Kq, Kf.

    Accepts a mapping `key -> {"min", "max", "unit", "source"}` (or objects with those
    attributes), or an object with a `.limits` mapping and optional `.kq`/`.kf` (and a
    `limits --json`-style dict with "limits", "kq", "kf").
    """
    kq = kf = None
    table: Any = limits
    if isinstance(limits, Mapping) and "limits" in limits and isinstance(
        limits["limits"], Mapping
    ):
        kq, kf, table = limits.get("kq"), limits.get("kf"), limits["limits"]
    elif not isinstance(limits, Mapping) and hasattr(limits, "limits"):
        kq, kf, table = getattr(limits, "kq", None), getattr(limits, "kf", None), limits.limits
    if not isinstance(table, Mapping):
        raise ReportsError(f"limits must be a mapping of parameter -> limit, got {type(table)}")
    rows: dict[str, LimitRow] = {}
    for key, spec in table.items():
        rows[str(key)] = LimitRow(
            parameter=str(key),
            min=_optional_float(_attr(spec, "min")),
            max=_optional_float(_attr(spec, "max")),
            unit=str(_attr(spec, "unit") or ""),
            source=_source_text(spec),
        )
    return rows, _optional_float(kq), _optional_float(kf)


def _source_text(spec: Any) -> str:
    """`regulation: qcvn40-2011 column B × Kq 0.9 × Kf 1 [M]` from source, detail, confidence."""
    source = str(_attr(spec, "source") or "")
    detail = str(_attr(spec, "detail") or "")
    confidence = _attr(spec, "confidence")
    text = f"{source}: {detail}" if source and detail and detail != source else source or detail
    return f"{text} [{confidence}]" if confidence else text


def _attr(spec: Any, name: str) -> Any:
    if isinstance(spec, Mapping):
        return spec.get(name)
    if isinstance(spec, int | float):
        return float(spec) if name == "max" else None
    return getattr(spec, name, None)


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ReportsError(f"expected a number, got {value!r}") from exc
    return None if math.isnan(number) else number


def build_report(
    frame: pd.DataFrame,
    plant: Plant,
    result: CheckResult,
    limits: Any,
    start: datetime,
    end: datetime,
    *,
    alerts: Sequence[Mapping[str, Any]] = (),
    lang: str = "vi",
    generated_at: datetime,
    version: str | None = None,
    discharge_stations: Sequence[str] = ("outlet",),
    min_completeness: float = 0.75,
) -> Report:
    """Assemble the report of `plant` over `[start, end)` from data the caller already has.

    `limits`: effective limits (see `normalize_limits`); `alerts`: alert-book episodes as
    mappings with id, parameter, kind, severity, state, start, end, acked_by, acked_at, note.
    """
    if start.tzinfo is None or end.tzinfo is None or generated_at.tzinfo is None:
        raise ReportsError("report times must be timezone-aware")
    if end <= start:
        raise ReportsError("report period ends before it starts")
    words = labels_for(lang)
    zone = plant.zone
    limit_rows, kq, kf = normalize_limits(limits)
    monitored = {key for keys in plant.stations.values() for key in keys}
    # a regulation table has ~33 rows; print those the plant measures or its permit sets
    shown = {k: v for k, v in limit_rows.items()
             if k in monitored or k in plant.limits or v.source.startswith("permit")}
    limit_notes = tuple(str(n) for n in getattr(limits, "notes", ()) or ())
    readings = _select(frame, plant.id, start, end)
    data_csv = canonical_csv(readings)

    findings = sorted(
        (f for f in result.findings if f.plant == plant.id),
        key=lambda f: (f.start, f.station, f.parameter, f.kind),
    )
    completeness = [c for c in result.completeness if c.plant == plant.id]
    treatment_days, treatment_total = _treatment(result.treatment, plant.id)
    interval_min = plant.interval_delta.total_seconds() / 60.0
    discharge = tuple(discharge_stations)

    parameters = tuple(
        _summarize(readings, station, key, limit_rows.get(key) if station in discharge else None,
                   findings, completeness, interval_min)
        for station, keys in plant.stations.items()
        for key in keys
    )
    day_parameters = tuple(
        key for station in discharge for key in plant.stations.get(station, ())
    )
    days = _days(readings, zone, start, end, discharge, day_parameters, limit_rows, findings,
                 completeness, treatment_days, min_completeness)
    verdict_status, verdict = _verdict(words, lang, findings, treatment_total, parameters,
                                       completeness, min_completeness)
    info = PlantInfo(plant.id, plant.name, plant.cluster, plant.timezone,
                     plant.design_flow_m3_day, plant.regulation, plant.column,
                     kq if kq is not None else plant.kq, kf)
    return Report(
        lang=lang,
        plant=info,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        period=period_label(start, end, zone),
        limits=tuple(shown[k] for k in sorted(shown)),
        limit_notes=limit_notes,
        verdict_status=verdict_status,
        verdict=verdict,
        treatment_days=tuple(treatment_days),
        treatment_total=treatment_total,
        parameters=parameters,
        episodes=tuple(Episode(f) for f in findings),
        days=days,
        day_parameters=day_parameters,
        alerts=tuple(_alert_row(a, zone) for a in alerts),
        notes=_notes(words, lang, parameters, findings, min_completeness),
        generated_at=generated_at.astimezone(zone),
        software_version=version if version is not None else software_version(),
        data_sha256=hashlib.sha256(data_csv).hexdigest(),
        data_rows=len(readings),
        discharge_stations=discharge,
        readings=readings,
        data_csv=data_csv,
    )


def _select(frame: pd.DataFrame, plant_id: str, start: datetime, end: datetime) -> pd.DataFrame:
    missing = [c for c in ID_COLUMNS if c not in frame.columns]
    if missing:
        raise ReportsError(f"readings frame lacks column(s) {missing}")
    if frame.empty:
        return frame.copy()
    times = frame["time"]
    mask = (frame["plant"] == plant_id) & (times >= start) & (times < end)
    # A readings frame is already in (time, plant, station) order (rules.frame).
    return frame.loc[mask].reset_index(drop=True)


def _treatment(
    rows: Iterable[TreatmentRow], plant_id: str
) -> tuple[list[TreatmentRow], TreatmentRow | None]:
    """Daily rows and the period total: the rules' month row if there is exactly one, else
    the sum of the days (compliant ratio weighted by inflow)."""
    mine = [r for r in rows if r.plant == plant_id]
    days = sorted((r for r in mine if len(r.date) == 10), key=lambda r: r.date)
    months = [r for r in mine if len(r.date) == 7]
    if len(months) == 1:
        return days, months[0]
    if not days:
        return days, None
    inflow = sum(r.inflow_m3 for r in days)
    outflow = sum(r.outflow_m3 for r in days)
    bypass = sum(r.bypass_m3 for r in days)
    compliant = sum((r.compliant_ratio or 0.0) * r.inflow_m3 for r in days)
    label = days[0].date if len(days) == 1 else f"{days[0].date}/{days[-1].date}"
    return days, TreatmentRow(
        plant=plant_id,
        date=label,
        inflow_m3=inflow,
        outflow_m3=outflow,
        bypass_m3=bypass,
        treated_ratio=outflow / inflow if inflow > 0 else None,
        compliant_ratio=compliant / inflow if inflow > 0 else None,
    )


def _valid_values(readings: pd.DataFrame, station: str, key: str) -> pd.DataFrame:
    """Time and value of the valid (status 0, present) readings of one station's parameter."""
    if readings.empty or key not in readings.columns:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"),
                             "value": pd.Series([], dtype="float64")})
    sub = readings.loc[readings["station"] == station]
    name = status_column(key)
    status = sub[name] if name in sub.columns else 0
    ok = sub[key].notna() & (status == 0)
    return pd.DataFrame({"time": sub.loc[ok, "time"], "value": sub.loc[ok, key].astype(float)})


def valid_series(readings: pd.DataFrame, station: str, key: str) -> pd.DataFrame:
    """Public view of the valid readings of one parameter (used by the charts)."""
    return _valid_values(readings, station, key)


def _over_limit(values: pd.Series, limit: LimitRow | None) -> pd.Series:
    over = pd.Series(False, index=values.index)
    if limit is None:
        return over
    if limit.max is not None:
        over |= values > limit.max
    if limit.min is not None:
        over |= values < limit.min
    return over


def _summarize(
    readings: pd.DataFrame,
    station: str,
    key: str,
    limit: LimitRow | None,
    findings: Sequence[Finding],
    completeness: Sequence[CompletenessRow],
    interval_min: float,
) -> ParameterSummary:
    valid = _valid_values(readings, station, key)
    values = valid["value"]
    calibrating = error = 0
    name = status_column(key)
    if not readings.empty and name in readings.columns:
        status = readings.loc[readings["station"] == station, name]
        calibrating = int((status == 1).sum())
        error = int((status == 2).sum())
    mine = [f for f in findings
            if f.station == station and f.parameter == key and f.kind in LIMIT_KINDS]
    ratios = [f.ratio for f in mine if f.ratio is not None]
    rows = [c for c in completeness if c.station == station and c.parameter == key]
    return ParameterSummary(
        station=station,
        parameter=key,
        unit=limit.unit if limit is not None else "",
        limit_min=limit.min if limit is not None else None,
        limit_max=limit.max if limit is not None else None,
        valid_count=len(values),
        min=float(values.min()) if len(values) else None,
        mean=float(values.mean()) if len(values) else None,
        max=float(values.max()) if len(values) else None,
        over_limit=int(_over_limit(values, limit).sum()),
        episodes=len(mine),
        episode_minutes=sum((f.end - f.start).total_seconds() / 60.0 for f in mine),
        worst_ratio=max(ratios) if ratios else None,
        expected=sum(c.expected for c in rows),
        valid=sum(c.valid for c in rows),
        calibrating_minutes=calibrating * interval_min,
        error_minutes=error * interval_min,
    )


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first = start.astimezone(zone).date()
    last = (end.astimezone(zone) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    begin = datetime(day.year, day.month, day.day, tzinfo=zone)
    after = day + timedelta(days=1)
    return begin, datetime(after.year, after.month, after.day, tzinfo=zone)


def _touches(finding: Finding, begin: datetime, finish: datetime) -> bool:
    if finding.end == finding.start:
        return begin <= finding.start < finish
    return finding.start < finish and finding.end > begin


def _days(
    readings: pd.DataFrame,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    discharge: Sequence[str],
    day_parameters: Sequence[str],
    limits: Mapping[str, LimitRow],
    findings: Sequence[Finding],
    completeness: Sequence[CompletenessRow],
    treatment: Sequence[TreatmentRow],
    min_completeness: float,
) -> tuple[DayRow, ...]:
    by_date = {r.date: r for r in treatment}
    means: dict[str, dict[date, float]] = {}
    over: dict[date, int] = {}
    for station in discharge:
        for key in day_parameters:
            valid = _valid_values(readings, station, key)
            if valid.empty:
                continue
            local = valid["time"].dt.tz_convert(zone).dt.date.to_numpy()
            per_day = means.setdefault(key, {})
            for day, mean in valid["value"].groupby(local).mean().items():
                per_day[_as_date(day)] = float(mean)
            flags = _over_limit(valid["value"], limits.get(key))
            for day, count in flags.groupby(local).sum().items():
                over[_as_date(day)] = over.get(_as_date(day), 0) + int(count)
    rows = []
    comp_by_day: dict[date, tuple[int, int]] = {}
    for c in completeness:
        if c.station in discharge:
            expected, valid_n = comp_by_day.get(c.date, (0, 0))
            comp_by_day[c.date] = (expected + c.expected, valid_n + c.valid)
    for day in _local_days(start, end, zone):
        begin, finish = _day_bounds(day, zone)
        # a finding judged on the whole month says nothing about one day
        touching = [f for f in findings
                    if f.basis not in PERIOD_BASES and _touches(f, begin, finish)]
        violations = [f for f in touching if f.kind in NONCOMPLIANCE_KINDS]
        expected, valid_n = comp_by_day.get(day, (0, 0))
        day_means = {k: means.get(k, {}).get(day) for k in day_parameters}
        has_values = any(v is not None for v in day_means.values())
        if violations:
            status = "violation"
        elif (expected > 0 and valid_n == 0) or (expected == 0 and not has_values):
            status = "no_data"
        elif (expected > 0 and valid_n / expected < min_completeness) or any(
            f.kind in DATA_KINDS for f in touching
        ):
            status = "incomplete"
        else:
            status = "ok"
        rows.append(
            DayRow(
                date=day,
                treatment=by_date.get(day.isoformat()),
                means=day_means,
                over_limit=over.get(day, 0),
                episodes=sum(1 for f in touching if f.kind in LIMIT_KINDS),
                expected=expected,
                valid=valid_n,
                status=status,
            )
        )
    return tuple(rows)


def _as_date(value: object) -> date:
    if not isinstance(value, date):
        raise ReportsError(f"expected a date, got {value!r}")
    return value


def _names(words: Labels, findings: Iterable[Finding]) -> str:
    keys = sorted({f.parameter for f in findings})
    return ", ".join(words.parameter(k) for k in keys)


def _verdict(
    words: Labels,
    lang: str,
    findings: Sequence[Finding],
    total: TreatmentRow | None,
    parameters: Sequence[ParameterSummary],
    completeness: Sequence[CompletenessRow],
    min_completeness: float,
) -> tuple[str, str]:
    issues: list[str] = []
    for kind in ("exceedance", "below_minimum"):
        hits = [f for f in findings if f.kind == kind]
        if hits:
            issues.append(words[f"issue_{kind}"].format(count=len(hits),
                                                        parameters=_names(words, hits)))
    bypass = [f for f in findings if f.kind == "bypass"]
    if bypass:
        issues.append(words["issue_bypass"].format(count=len(bypass)))
    shortfalls = [f for f in findings if f.kind == "treatment_shortfall"]
    shortfall_days = [f for f in shortfalls if f.basis == "day"]
    if shortfalls:
        if total is not None and total.compliant_ratio is not None:
            issues.append(words["issue_treatment_shortfall"].format(
                ratio=format_percent(total.compliant_ratio, lang)))
        if shortfall_days:
            issues.append(words["issue_shortfall_days"].format(count=len(shortfall_days)))
    if issues:
        return "noncompliant", words["verdict_noncompliant"].format(issues="; ".join(issues))
    if not any(p.valid_count for p in parameters):
        return "no_data", words["verdict_no_data"]
    data_issues = [f for f in findings if f.kind in DATA_KINDS]
    low = [c for c in completeness if c.fraction < min_completeness]
    if data_issues or low:
        count = len(data_issues) or len({(c.station, c.parameter, c.date) for c in low})
        return "compliant_incomplete", words["verdict_compliant_incomplete"].format(
            issues=words["issue_data"].format(count=count))
    return "compliant", words["verdict_compliant"]


def _notes(
    words: Labels,
    lang: str,
    parameters: Sequence[ParameterSummary],
    findings: Sequence[Finding],
    min_completeness: float,
) -> tuple[str, ...]:
    notes: list[str] = []
    for p in parameters:
        name, station = words.parameter(p.parameter), words.station(p.station)
        if p.valid_count == 0:
            notes.append(words["note_no_values"].format(parameter=name, station=station))
        fraction = p.completeness
        if fraction is not None and fraction < min_completeness:
            notes.append(words["note_completeness"].format(
                parameter=name, station=station, fraction=format_percent(fraction, lang),
                threshold=format_percent(min_completeness, lang, 0)))
        if p.calibrating_minutes or p.error_minutes:
            notes.append(words["note_excluded"].format(
                parameter=name, station=station,
                calibrating=format_number(p.calibrating_minutes, lang, 0),
                error=format_number(p.error_minutes, lang, 0)))
    for kind in DATA_KINDS:
        hits = [f for f in findings if f.kind == kind]
        if hits:
            notes.append(words["note_findings"].format(
                count=len(hits), kind=words.kind(kind), parameters=_names(words, hits)))
    return tuple(notes)


def _alert_row(alert: Mapping[str, Any], zone: ZoneInfo) -> AlertRow:
    return AlertRow(
        id=str(alert.get("id", "")),
        parameter=str(alert.get("parameter", "") or ""),
        kind=str(alert.get("kind", "") or ""),
        severity=str(alert.get("severity", "") or ""),
        state=str(alert.get("state", "") or ""),
        start=_as_time(alert.get("start"), zone),
        # the alert book's own JSON says resolved_at / ack_note
        end=_as_time(alert.get("end") or alert.get("resolved_at"), zone),
        acked_by=str(alert.get("acked_by") or ""),
        acked_at=_as_time(alert.get("acked_at"), zone),
        note=str(alert.get("note") or alert.get("ack_note") or ""),
    )


def _as_time(value: Any, zone: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float | np.integer | np.floating):
        seconds = float(value) / 1000.0 if float(value) > 1e11 else float(value)  # epoch ms
        moment = datetime.fromtimestamp(seconds, tz=zone)
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ReportsError(f"bad alert time {value!r}") from exc
    if moment.tzinfo is None:
        raise ReportsError(f"alert time {value!r} has no time zone")
    return moment.astimezone(zone)
