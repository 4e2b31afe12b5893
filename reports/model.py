"""The report model: everything a compliance report says, computed once, rendered many ways.

`build_report` is pure (no I/O, no clock): the readings frame, the plant, the rules'
`CheckResult`, the effective limits (`rules.limits.EffectiveLimits`), the period and the alert
book's episodes (`AlertRow`, built by the caller: reports never import alerts) go in; a frozen
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
from zoneinfo import ZoneInfo

import pandas as pd

from reports.errors import ReportsError
from reports.labels import Labels, Told, labels_for
from rules.errors import RulesError
from rules.findings import Finding
from rules.frame import ID_COLUMNS, status_column, value_keys
from rules.limits import EffectiveLimits
from rules.permit import Plant
from rules.results import CheckResult, CompletenessRow, TreatmentRow
from rules.vocabulary import Vocabulary

NONCOMPLIANCE_KINDS = ("exceedance", "below_minimum", "bypass", "treatment_shortfall")
LIMIT_KINDS = ("exceedance", "below_minimum")
DATA_KINDS = ("no_data", "insufficient_data", "sensor_fault")
PERIOD_BASES = ("month", "monthly_mean")


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One effective limit (after Kq/Kf and permit overrides) and where it comes from, told
    in the report's language ("QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0 [C]", "giấy phép")."""

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
    # What the plant is judged against, as printed: the regulation's designation, or for a
    # factory connected to its cluster's network the cluster's connection rules (REGULATIONS.md
    # §1: members follow the cluster operator's connection rules, not QCVN 40 directly).
    judged_by: str = ""
    connection_rules: bool = False  # then column, Kq and Kf are not the plant's terms


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
    """One alert episode from the alert book, with its acknowledgement: codes as the book
    stores them (kind, severity, state, reason), aware times, "" for no name or note."""

    id: str
    parameter: str
    kind: str
    severity: str
    state: str
    start: datetime
    end: datetime | None
    acked_by: str = ""
    acked_at: datetime | None = None
    note: str = ""
    reason: str | None = None  # acknowledgement reason code (SPEC "Console"), when given

    def __post_init__(self) -> None:
        for name in ("start", "end", "acked_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ReportsError(f"alert {self.id}: {name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a report comes from: when it was made, by which version, and the data behind it
    (its canonical CSV bytes, their SHA-256 and row count)."""

    generated_at: datetime
    software_version: str
    data_sha256: str
    data_rows: int
    data_csv: bytes = field(repr=False, compare=False)

    @classmethod
    def of(cls, data_csv: bytes, rows: int, generated_at: datetime, zone: ZoneInfo,
           version: str | None = None) -> Provenance:
        """The provenance of data `data_csv` (`rows` rows), made at `generated_at`."""
        return cls(generated_at.astimezone(zone),
                   version if version is not None else software_version(),
                   hashlib.sha256(data_csv).hexdigest(), rows, data_csv)


@dataclass(frozen=True, slots=True)
class Report(Told):
    """A compliance report for one plant and period, in one language (`period` is the
    compact period of file names, `period_text` what a person reads)."""

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
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.plant.timezone)

    @property
    def has_reasons(self) -> bool:
        """True when an alert carries an acknowledgement reason (the table then shows them)."""
        return any(a.reason for a in self.alerts)

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
    """`2026-10` for a calendar month, `2026-10-05` for one day, else `20261001-20261015`:
    the compact period of file names (`Report.period_text` is what a person reads).

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
    data = frame.sort_values(["time", "plant", "station"], kind="stable")
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


def limit_rows(limits: EffectiveLimits, words: Vocabulary) -> dict[str, LimitRow]:
    """The effective limits as report rows, their sources told in `words`' language."""
    return {
        key: LimitRow(parameter=key, min=limit.min, max=limit.max, unit=limit.unit,
                      source=limits.source_text(key, words))
        for key, limit in limits.limits.items()
    }


def judged_against(plant: Plant, limits: EffectiveLimits, words: Vocabulary) -> str:
    """What a plant is judged against, as a report prints it: the regulation's designation,
    or the cluster's connection rules for a factory connected to the cluster's network."""
    if plant.connection_status == "connected":
        phrase = words.limit_origin("connection", limits.regulation, limits.column)
        return phrase[:1].upper() + phrase[1:]
    return words.designation(limits.regulation)


def build_report(
    frame: pd.DataFrame,
    plant: Plant,
    result: CheckResult,
    limits: EffectiveLimits,
    start: datetime,
    end: datetime,
    *,
    alerts: Sequence[AlertRow] = (),
    lang: str = "vi",
    generated_at: datetime,
    version: str | None = None,
    discharge_stations: Sequence[str] = ("outlet",),
    min_completeness: float = 0.75,
) -> Report:
    """Assemble the report of `plant` over `[start, end)` from data the caller already has.

    `limits`: the plant's effective limits in force at `start` (`rules.limits.plant_limits`);
    `alerts`: the alert book's episodes that overlap the period.
    """
    if start.tzinfo is None or end.tzinfo is None or generated_at.tzinfo is None:
        raise ReportsError("report times must be timezone-aware")
    if end <= start:
        raise ReportsError("report period ends before it starts")
    labels = labels_for(lang)
    try:
        vocabulary = Vocabulary.for_lang(lang)
        rows = limit_rows(limits, vocabulary)
    except RulesError as exc:
        raise ReportsError(str(exc)) from exc
    zone = plant.zone
    monitored = {key for keys in plant.stations.values() for key in keys}
    # a regulation table has ~33 rows; print those the plant measures or its permit sets
    shown = {k: v for k, v in rows.items()
             if k in monitored or k in plant.limits or limits.limits[k].source == "permit"}
    limit_notes = tuple(note.text(vocabulary) for note in limits.notes)
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
        _summarize(readings, station, key, rows.get(key) if station in discharge else None,
                   findings, completeness, interval_min)
        for station, keys in plant.stations.items()
        for key in keys
    )
    day_parameters = tuple(
        key for station in discharge for key in plant.stations.get(station, ())
    )
    days = _days(readings, zone, start, end, discharge, day_parameters, rows, findings,
                 completeness, treatment_days, min_completeness)
    verdict_status, verdict = _verdict(labels, vocabulary, findings, treatment_total,
                                       parameters, completeness, min_completeness)
    connected = plant.connection_status == "connected"
    info = PlantInfo(plant.id, plant.name, plant.cluster, plant.timezone,
                     plant.design_flow_m3_day, limits.regulation, limits.column,
                     limits.kq, limits.kf,
                     judged_by=judged_against(plant, limits, vocabulary),
                     connection_rules=connected)
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
        alerts=tuple(alerts),
        notes=_notes(labels, vocabulary, parameters, findings, min_completeness),
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


def _names(words: Vocabulary, findings: Iterable[Finding]) -> str:
    keys = sorted({f.parameter for f in findings})
    return ", ".join(words.parameter(k) for k in keys)


def _verdict(
    labels: Labels,
    words: Vocabulary,
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
            issues.append(labels[f"issue_{kind}"].format(count=len(hits),
                                                         parameters=_names(words, hits)))
    bypass = [f for f in findings if f.kind == "bypass"]
    if bypass:
        issues.append(labels["issue_bypass"].format(count=len(bypass)))
    shortfalls = [f for f in findings if f.kind == "treatment_shortfall"]
    shortfall_days = [f for f in shortfalls if f.basis == "day"]
    if shortfalls:
        if total is not None and total.compliant_ratio is not None:
            issues.append(labels["issue_treatment_shortfall"].format(
                ratio=words.format_percent(total.compliant_ratio)))
        if shortfall_days:
            issues.append(labels["issue_shortfall_days"].format(count=len(shortfall_days)))
    if issues:
        return "noncompliant", labels["verdict_noncompliant"].format(issues="; ".join(issues))
    if not any(p.valid_count for p in parameters):
        return "no_data", labels["verdict_no_data"]
    data_issues = [f for f in findings if f.kind in DATA_KINDS]
    low = [c for c in completeness if c.fraction < min_completeness]
    if data_issues or low:
        count = len(data_issues) or len({(c.station, c.parameter, c.date) for c in low})
        return "compliant_incomplete", labels["verdict_compliant_incomplete"].format(
            issues=labels["issue_data"].format(count=count))
    return "compliant", labels["verdict_compliant"]


def _notes(
    labels: Labels,
    words: Vocabulary,
    parameters: Sequence[ParameterSummary],
    findings: Sequence[Finding],
    min_completeness: float,
) -> tuple[str, ...]:
    notes: list[str] = []
    for p in parameters:
        name, station = words.parameter(p.parameter), words.station(p.station)
        if p.valid_count == 0:
            notes.append(labels["note_no_values"].format(parameter=name, station=station))
        fraction = p.completeness
        if fraction is not None and fraction < min_completeness:
            notes.append(labels["note_completeness"].format(
                parameter=name, station=station, fraction=words.format_percent(fraction),
                threshold=words.format_percent(min_completeness, 0)))
        if p.calibrating_minutes or p.error_minutes:
            notes.append(labels["note_excluded"].format(
                parameter=name, station=station,
                calibrating=words.format_number(p.calibrating_minutes, 0),
                error=words.format_number(p.error_minutes, 0)))
    for kind in DATA_KINDS:
        hits = [f for f in findings if f.kind == kind]
        if hits:
            notes.append(labels["note_findings"].format(
                count=len(hits), kind=words.kind(kind), parameters=_names(words, hits)))
    return tuple(notes)
