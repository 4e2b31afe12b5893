"""The 100 % treatment target: volumes, treated and compliant ratios per day and month.

Flows (m³/h) are integrated with the trapezoid rule over irregular intervals; two readings
further apart than `flow_gap_intervals` × interval are not bridged — that stretch counts as
unmeasured (`TreatmentRow.flow_gap_hours`) rather than guessed. The ratios are taken over the
plant-local hours measured at both the inlet and the outlet meter (≥ `min_valid_fraction` of
the hour), so a meter outage lowers neither ratio. Compliant outflow is the outflow of hours
in which no limited outlet parameter's mean of valid readings broke its limit (an hour without
valid data of a parameter is reported as `insufficient_data`, not counted as a breach).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from rules.bases import Context
from rules.episodes import Subject, local_time, merge_episodes
from rules.findings import Finding
from rules.limits import schedule_bounds
from rules.permit import FLOW_KEYS
from rules.results import TreatmentRow
from rules.series import Series
from rules.settings import CheckSettings
from rules.windows import Windows, calendar_pieces, calendar_windows

_NS_PER_H = 3.6e12


def integrate(series: Series, edges: np.ndarray, gap_ns: float) -> tuple[np.ndarray, np.ndarray]:
    """(volume m³, measured ns) per piece between `edges` from a flow series in m³/h."""
    times = series.times[series.valid]
    values = series.values[series.valid]
    n_pieces = len(edges) - 1
    if len(times) < 2:
        return np.zeros(n_pieces), np.zeros(n_pieces)
    dt = np.diff(times).astype(np.float64)
    bridged = dt <= gap_ns
    volume = np.where(bridged, (values[:-1] + values[1:]) / 2.0 * dt / _NS_PER_H, 0.0)
    covered = np.where(bridged, dt, 0.0)
    return _between(times, volume, dt, edges), _between(times, covered, dt, edges)


def _between(
    times: np.ndarray, amount: np.ndarray, dt: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Spread each segment's amount evenly over its time span and sum it per piece."""
    cumulative = np.concatenate(([0.0], np.cumsum(amount)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dt > 0, amount / dt, 0.0)
    seg = np.clip(np.searchsorted(times, edges, side="right") - 1, 0, len(dt) - 1)
    at = cumulative[seg] + rate[seg] * (edges - times[seg]).astype(np.float64)
    at = np.where(edges <= times[0], 0.0, np.where(edges >= times[-1], cumulative[-1], at))
    return np.diff(at)


def _hour_compliance(ctx: Context, judged: Sequence[Series], hours: Windows) -> np.ndarray:
    """True per hour piece unless a judged parameter's valid mean broke its limits."""
    ok = np.ones(len(hours), dtype=bool)
    for series in judged:
        idx = hours.index_of(series.times)
        use = series.valid & (idx >= 0)
        n = len(hours)
        counts = np.bincount(idx[use], minlength=n)[:n]
        sums = np.bincount(idx[use], weights=series.values[use], minlength=n)[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        lows, highs = schedule_bounds(ctx.schedule, series.key, hours.starts)
        met = ~(means > highs) & ~(means < lows)  # NaN (no valid data) is not a breach
        ok &= met
    return ok


@dataclass(frozen=True, slots=True)
class HourLedger:
    """A plant's flows per plant-local hour piece of a range: volumes and measured time per flow
    key, the hours both the inlet and outlet meters measured, and the outflow of hours in which
    every judged parameter met its limits (compliantly treated water)."""

    hours: Windows
    volumes: Mapping[str, np.ndarray]  # m³ per hour piece
    coverage: Mapping[str, np.ndarray]  # ns measured per hour piece
    measured: np.ndarray  # bool per hour piece
    compliant_out: np.ndarray  # m³ per hour piece
    flows: Mapping[str, Sequence[Series]]  # the flow series integrated, per flow key


def flow_volumes(
    series: Sequence[Series], edges: np.ndarray, gap_ns: float
) -> tuple[np.ndarray, np.ndarray]:
    """(m³, measured ns) per piece of one flow measured by several series (summed volumes,
    the best-covered meter's time)."""
    total, covered = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
    for one in series:
        vol, cov = integrate(one, edges, gap_ns)
        total += vol
        covered = np.maximum(covered, cov)
    return total, covered


def well_measured(covered: np.ndarray, hours: Windows, min_valid_fraction: float) -> np.ndarray:
    """True per piece measured for at least `min_valid_fraction` of its length."""
    return covered >= min_valid_fraction * (hours.ends - hours.starts).astype(np.float64)


def hour_ledger(
    ctx: Context,
    flows: Mapping[str, Sequence[Series]],
    judged: Sequence[Series],
    start: datetime,
    end: datetime,
) -> HourLedger:
    """The plant's hour-by-hour volumes over [start, end) (see `HourLedger`)."""
    hours = calendar_pieces("hourly_mean", ctx.zone, start, end)
    gap = ctx.settings.flow_gap_intervals * ctx.interval.total_seconds() * 1e9
    volumes: dict[str, np.ndarray] = {}
    coverage: dict[str, np.ndarray] = {}
    for key in FLOW_KEYS:
        volumes[key], coverage[key] = flow_volumes(flows.get(key, ()), hours.edges, gap)
    fraction = ctx.settings.min_valid_fraction
    measured = (well_measured(coverage["flow_in"], hours, fraction)
                & well_measured(coverage["flow_out"], hours, fraction))
    compliant_out = volumes["flow_out"] * _hour_compliance(ctx, judged, hours)
    return HourLedger(hours, volumes, coverage, measured, compliant_out, flows)


def treatment_table(
    ctx: Context,
    flows: Mapping[str, Sequence[Series]],
    judged: Sequence[Series],
    outlet: str,
    start: datetime,
    end: datetime,
) -> tuple[list[TreatmentRow], list[Finding]]:
    """Rows per plant-local day and month of [start, end), and `treatment_shortfall` findings
    for whole days/months whose compliant ratio is under the target less the tolerance, or
    that discharged any water untreated (bypass) or non-compliant; partial days are reported
    as rows but never judged."""
    ledger = hour_ledger(ctx, flows, judged, start, end)
    rows: list[TreatmentRow] = []
    findings: list[Finding] = []
    for period in ledger_periods(ledger.hours, ctx.zone, start, end):
        row = treatment_row(ctx.plant, period, ledger)
        rows.append(row)
        if period.whole and falls_short(row, ctx.settings):
            ratio = row.compliant_ratio or 0.0
            findings.append(Finding(
                plant=ctx.plant, station=outlet, parameter="compliant_ratio",
                kind="treatment_shortfall", basis=period.basis,
                start=period.start, end=period.end,
                value=ratio, limit=ctx.settings.treatment_target,
                ratio=ratio / ctx.settings.treatment_target,
                severity=ctx.settings.shortfall_severity,
            ))
    return rows, findings


@dataclass(frozen=True, slots=True)
class Period:
    """A plant-local day or month of a ledger: its hour pieces (`sel`), label, bounds, and
    whether it lies wholly inside the checked range (only whole periods are judged)."""

    basis: str  # day | month
    label: str  # YYYY-MM-DD | YYYY-MM
    sel: np.ndarray
    whole: bool
    start: datetime
    end: datetime


def ledger_periods(hours: Windows, zone: ZoneInfo, start: datetime, end: datetime) -> list[Period]:
    """The days, then the months, that the hour pieces of [start, end) fall in."""
    if len(hours) == 0:
        return []
    local = [local_time(int(t), zone) for t in hours.starts]
    days = np.array([d.date().isoformat() for d in local])
    months = np.array([d.strftime("%Y-%m") for d in local])
    full_days = set(calendar_windows("daily_mean", zone, start, end).starts.tolist())
    full_months = set(calendar_windows("monthly_mean", zone, start, end).starts.tolist())
    periods: list[Period] = []
    for labels, full, basis in ((days, full_days, "day"), (months, full_months, "month")):
        for label in dict.fromkeys(labels.tolist()):
            sel = labels == label
            first, last = np.flatnonzero(sel)[[0, -1]]
            periods.append(Period(
                basis, label, sel, int(hours.starts[first]) in full,
                local_time(int(hours.starts[first]), zone),
                local_time(int(hours.ends[last]), zone)))
    return periods


def falls_short(row: TreatmentRow, settings: CheckSettings) -> bool:
    """A plant's day/month misses the target: compliant ratio under the target less the
    tolerance, or any water left untreated (bypass) or non-compliant, whatever its volume."""
    ratio = row.compliant_ratio
    if ratio is None:
        return False
    # The tolerance absorbs flowmeter disagreement only: water that left untreated (bypass)
    # or while a parameter was over its limit is a shortfall at any volume.
    untreated = row.bypass_m3 > 0 or (
        row.treated_ratio is not None and row.treated_ratio - ratio > _RATIO_EPSILON)
    return ratio < settings.treatment_target - settings.treatment_tolerance or untreated


_RATIO_EPSILON = 1e-9


def treatment_row(plant: str, period: Period, ledger: HourLedger) -> TreatmentRow:
    """The SPEC treatment row of one period: volumes over all its hours, ratios over the
    hours both meters measured."""
    sel, volumes = period.sel, ledger.volumes
    both = sel & ledger.measured
    inflow = float(volumes["flow_in"][both].sum())
    outflow = float(volumes["flow_out"][both].sum())
    compliant = float(ledger.compliant_out[both].sum())
    span = (ledger.hours.ends - ledger.hours.starts).astype(np.float64)
    unmeasured = span - np.minimum(ledger.coverage["flow_in"], ledger.coverage["flow_out"])
    return TreatmentRow(
        plant=plant, date=period.label, inflow_m3=float(volumes["flow_in"][sel].sum()),
        outflow_m3=float(volumes["flow_out"][sel].sum()),
        bypass_m3=float(volumes["flow_bypass"][sel].sum()),
        treated_ratio=outflow / inflow if inflow > 0 else None,
        compliant_ratio=compliant / inflow if inflow > 0 else None,
        flow_gap_hours=float(unmeasured[sel].sum()) / _NS_PER_H,
    )


def bypass_findings(ctx: Context, series: Series) -> list[Finding]:
    """`bypass` (critical) for every run of valid bypass-flow readings above zero."""
    times, values = series.times[series.valid], series.values[series.valid]
    flowing = values > 0
    if not flowing.any():
        return []
    gap = ctx.settings.no_data_after_intervals * ctx.interval.total_seconds() * 1e9
    joined = np.ones(len(times), dtype=bool)
    joined[1:] = np.diff(times) <= gap
    subject = Subject(ctx.plant, series.station, series.key, "bypass", "instantaneous", ctx.zone)
    limits = np.zeros(len(values))
    return merge_episodes(subject, times, times, flowing, joined, values, limits, values,
                          "critical", with_ratio=False)

