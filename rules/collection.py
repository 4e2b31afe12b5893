"""A cluster's collection and treatment ledger: the 100 % target where it is set (SPEC
"Clusters"), per plant-local day and month.

- generated: what the members that should reach the central plant discharge — metered
  factories' `flow_out` at their `connection` station (integrated like the plant's flows) plus
  the declared flows of unmetered ones, for members `connected` or `not_connected` (the latter's
  water is generated but cannot be collected). `own_treatment` members hold their own permit and
  are judged at their own station; they are not the network's to collect.
- collected: the central plant's inflow (`flow_in`); 0 without a central plant.
- treated compliantly: the central plant's outflow in hours every judged parameter met its
  limits (rules.treatment).

Ratios are taken over the hours every meter involved measured (a meter gap is insufficient data,
never a shortfall); volumes are shown over all hours, as in the treatment rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from rules.cluster import ClusterLayout, Member
from rules.evaluate import plant_ledger
from rules.findings import CollectionNote, Finding
from rules.permit import CONNECTION_STATION, Plant
from rules.results import ClusterRow
from rules.series import Series, extract, in_range, plant_rows, station_rows, to_ns
from rules.settings import CheckSettings
from rules.treatment import (
    HourLedger,
    Period,
    falls_short,
    flow_volumes,
    ledger_periods,
    treatment_row,
    well_measured,
)
from rules.vocabulary import Vocabulary
from rules.windows import Windows, calendar_pieces

NETWORK_STATION = "network"  # collection_shortfall findings are about the cluster's network
PARAMETER = "collection_ratio"
_NS_PER_H = 3.6e12
# Travel time from the factories to the plant, searched when explaining a shortfall.
_LAGS = tuple(timedelta(minutes=m) for m in range(0, 125, 5))
# A factory explains the missing water when its fit leaves at most this share of what the next
# best explanation leaves unexplained.
_CLEARLY_BETTER = 0.6


@dataclass(frozen=True, slots=True)
class ClusterLedger:
    """What one cluster's ledger found: `clusters` rows and `collection_shortfall` findings."""

    rows: list[ClusterRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # m³ each member discharged over the judged range (metered: its connection meter; else
    # its declared flow), own_treatment members included though they are outside the ledger
    members: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Source:
    """One member's wastewater per hour piece: volume, and whether it was measured."""

    member: Member
    volume: np.ndarray
    measured: np.ndarray


def cluster_ledger(
    layout: ClusterLayout,
    frames: Mapping[str, pd.DataFrame],
    settings: CheckSettings,
    start: datetime,
    end: datetime,
    now: datetime,
) -> ClusterLedger:
    """Rows per plant-local day and month of [start, end) (never past `now`) and a
    `collection_shortfall` for each whole day/month in which the generated volume exceeds the
    collected one by more than `collection_tolerance`, or a member is not connected.

    `frames` maps plant id → readings of that plant (the central plant and the metered
    members) over `reading_span`; a missing plant has no data. The finding's plant is the
    central plant, or the cluster id for a cluster without one."""
    horizon = min(end, now)
    if to_ns(horizon) <= to_ns(start):
        return ClusterLedger()
    hours = calendar_pieces("hourly_mean", layout.zone, start, horizon)
    everyone = [_volumes(m, frames, settings, hours, start, horizon) for m in layout.members]
    sources = [s for s in everyone if s.member.connection != "own_treatment"]
    metered_ok = np.ones(len(hours), dtype=bool)
    for source in sources:
        metered_ok &= source.measured
    plant: HourLedger | None = None
    collect_ok = treat_ok = metered_ok
    if layout.central is not None:
        frame = frames.get(layout.central.id, pd.DataFrame())
        plant = plant_ledger(frame, layout.central, settings, start, horizon)
        inlet_ok = well_measured(plant.coverage["flow_in"], hours, settings.min_valid_fraction)
        collect_ok = metered_ok & inlet_ok
        treat_ok = collect_ok & plant.measured

    rows: list[ClusterRow] = []
    findings: list[Finding] = []
    for period in ledger_periods(hours, layout.zone, start, horizon):
        row, short = _judge(layout, period, sources, plant, collect_ok, treat_ok, settings)
        rows.append(row)
        if short:
            ratio = row.collection_ratio  # None: not measured, but a member is not connected
            note = _explain(layout, period, sources, plant, collect_ok, settings)
            findings.append(Finding(
                plant=finding_plant(layout),
                station=NETWORK_STATION, parameter=PARAMETER, kind="collection_shortfall",
                basis=period.basis, start=period.start, end=period.end,
                value=ratio, limit=1.0, ratio=ratio, severity=settings.shortfall_severity,
                note=Vocabulary.for_lang("en").collection_note(note), explanation=note,
            ))
    return ClusterLedger(rows, findings, {s.member.id: float(s.volume.sum()) for s in everyone})


def _bridge(plant: Plant, settings: CheckSettings) -> timedelta:
    """The longest step between two flow readings still integrated (not a gap)."""
    return settings.flow_gap_intervals * plant.interval_delta


def reading_span(
    layout: ClusterLayout, settings: CheckSettings, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    """The readings `cluster_ledger` over [start, end) uses: past `end` by the longest bridged
    flow step, so the step that crosses `end` (23:55 → 00:00) counts in the range whether a
    day is judged alone or in its month; a day's rows then add up to the month's."""
    return start, end + max((_bridge(p, settings) for p in layout.plants),
                            default=timedelta(0))


def finding_plant(layout: ClusterLayout) -> str:
    """The plant a cluster's collection findings name: its central plant, else the cluster."""
    return layout.central.id if layout.central else layout.id


def month_to_date(
    days: Sequence[ClusterRow], cluster: str, label: str, central: bool
) -> ClusterRow:
    """The row of a month not (wholly) judged yet, from its judged days: volumes and ratios
    add up exactly (each day row carries its ratios' own volumes); `target_met` is None, as
    for any partial period. `central`: whether the cluster has a central plant."""
    def total(name: str) -> float:
        return float(sum(getattr(row, name) for row in days))

    gen_c, col_c = total("measured_generated_m3"), total("measured_collected_m3")
    gen_t, trt_t = total("judged_generated_m3"), total("judged_compliant_m3")
    return ClusterRow(
        cluster=cluster, date=label, generated_m3=total("generated_m3"),
        collected_m3=total("collected_m3"), treated_compliant_m3=total("treated_compliant_m3"),
        collection_ratio=None if gen_c <= 0 else col_c / gen_c,
        treatment_ratio=(None if gen_t <= 0 else trt_t / gen_t) if central else 0.0,
        target_met=None, measured_generated_m3=gen_c, measured_collected_m3=col_c,
        judged_generated_m3=gen_t, judged_compliant_m3=trt_t,
    )


def _volumes(
    member: Member, frames: Mapping[str, pd.DataFrame], settings: CheckSettings,
    hours: Windows, start: datetime, end: datetime,
) -> _Source:
    span = (hours.ends - hours.starts).astype(np.float64)
    if member.plant is None:
        volume = member.declared_flow_m3_day / 24.0 * span / _NS_PER_H
        return _Source(member, volume, np.ones(len(hours), dtype=bool))
    series = _connection_flow(member.plant, frames, settings, start, end)
    gap = settings.flow_gap_intervals * member.plant.interval_delta.total_seconds() * 1e9
    volume, covered = flow_volumes([series], hours.edges, gap)
    return _Source(member, volume, well_measured(covered, hours, settings.min_valid_fraction))


def _connection_flow(
    plant: Plant, frames: Mapping[str, pd.DataFrame], settings: CheckSettings,
    start: datetime, end: datetime,
) -> Series:
    """A metered member's discharge: `flow_out` at its `connection` station (readings up to
    one bridged step past `end`, see `reading_span`)."""
    frame = in_range(plant_rows(frames.get(plant.id, pd.DataFrame()), plant.id),
                     to_ns(start), to_ns(end + _bridge(plant, settings)) + 1)
    rows = station_rows(frame).get(CONNECTION_STATION)
    return extract(rows, CONNECTION_STATION, "flow_out", settings)


def _judge(
    layout: ClusterLayout, period: Period, sources: Sequence[_Source], plant: HourLedger | None,
    collect_ok: np.ndarray, treat_ok: np.ndarray, settings: CheckSettings,
) -> tuple[ClusterRow, bool]:
    """The period's row, and whether it is a collection shortfall. The target is met when
    everything generated reached the plant (within the tolerance, no member unconnected) and
    the plant treated its inflow compliantly (its own treatment_shortfall rule)."""
    sel = period.sel
    generated = sum((s.volume for s in sources), np.zeros(len(sel)))
    collected = plant.volumes["flow_in"] if plant else np.zeros(len(sel))
    compliant = plant.compliant_out if plant else np.zeros(len(sel))
    gen_c, col_c = generated[sel & collect_ok].sum(), collected[sel & collect_ok].sum()
    gen_t, trt_t = generated[sel & treat_ok].sum(), compliant[sel & treat_ok].sum()
    collection = None if gen_c <= 0 else float(col_c / gen_c)
    treatment = None if gen_t <= 0 else float(trt_t / gen_t)
    if plant is None:
        treatment = 0.0  # SPEC: no central plant, nothing is treated
    unconnected = any(s.member.connection == "not_connected" and s.volume[sel].sum() > 0
                      for s in sources)
    short = period.whole and (
        unconnected or (collection is not None
                        and collection < 1.0 - settings.collection_tolerance))
    met: bool | None = None
    if short or (period.whole and collection is not None and plant is None):
        met = False
    elif period.whole and collection is not None and plant is not None:
        plant_row = treatment_row(layout.central.id if layout.central else layout.id,
                                  period, plant)
        if plant_row.compliant_ratio is not None:
            met = not falls_short(plant_row, settings)
    row = ClusterRow(
        cluster=layout.id, date=period.label, generated_m3=float(generated[sel].sum()),
        collected_m3=float(collected[sel].sum()), treated_compliant_m3=float(compliant[sel].sum()),
        collection_ratio=collection, treatment_ratio=treatment, target_met=met,
        measured_generated_m3=float(gen_c), measured_collected_m3=float(col_c),
        judged_generated_m3=float(gen_t), judged_compliant_m3=float(trt_t),
    )
    return row, short


def _explain(
    layout: ClusterLayout, period: Period, sources: Sequence[_Source], plant: HourLedger | None,
    collect_ok: np.ndarray, settings: CheckSettings,
) -> CollectionNote:
    """The volumes and, where the data can tell, the members behind them."""
    sel = period.sel
    ok = sel & collect_ok
    metered = sum(float(s.volume[sel].sum()) for s in sources if s.member.metered)
    declared = sum(float(s.volume[sel].sum()) for s in sources if not s.member.metered)
    collected = float(plant.volumes["flow_in"][sel].sum()) if plant else 0.0
    unconnected = tuple((s.member.id, float(s.volume[sel].sum())) for s in sources
                        if s.member.connection == "not_connected")
    left_out = int(np.count_nonzero(sel & ~collect_ok))
    silent: tuple[str, ...] = ()
    silent_inlet = ""
    if left_out:
        silent = tuple(s.member.id for s in sources if not s.measured[sel].all())
        if plant is not None and layout.central is not None and not well_measured(
                plant.coverage["flow_in"], plant.hours, settings.min_valid_fraction)[sel].all():
            silent_inlet = layout.central.id
    culprit: tuple[str, float, float] | None = None
    network = False
    if plant is not None and layout.central is not None:
        gap_ns = settings.flow_gap_intervals * layout.central.interval_delta.total_seconds() * 1e9
        culprit, network = _attribute(sources, plant, ok, gap_ns, settings.collection_tolerance)
    return CollectionNote(
        generated_m3=metered + declared, metered_m3=metered, declared_m3=declared,
        collected_m3=collected, central=plant is not None, unconnected=unconnected,
        left_out_hours=left_out, silent=silent, silent_inlet=silent_inlet,
        culprit=culprit[0] if culprit else "", culprit_share=culprit[1] if culprit else 0.0,
        culprit_m3=culprit[2] if culprit else 0.0, network=network,
    )


def _attribute(
    sources: Sequence[_Source], plant: HourLedger, ok: np.ndarray, gap_ns: float,
    tolerance: float,
) -> tuple[tuple[str, float, float] | None, bool]:
    """The metered connected factory whose discharge the missing water follows hour by hour,
    after shifting the plant's inflow by the network's travel time, as (id, share of its
    discharge lost, m³ lost) — None when none stands out — and whether the missing water
    follows the whole network's flow instead.

    Each candidate explains the missing water as a share of its own discharge; so does a loss
    spread over the whole network. A factory is named only when its fit leaves clearly less
    unexplained than every other candidate's."""
    connected = [s for s in sources if s.member.connection == "connected"]
    candidates = [s for s in connected if s.member.metered]
    if not candidates:
        return None, False
    generated = sum((s.volume for s in connected), np.zeros(len(ok)))
    collected, usable = _lagged_inflow(plant, generated, ok, gap_ns)
    use = ok & usable
    missing = (generated - collected)[use]
    if len(missing) < 3 or missing.sum() <= tolerance * generated[use].sum():
        return None, False  # the connected members' water arrived: nothing to explain
    fits = [(*_fit(missing, s.volume[use]), s.member.id, float(s.volume[use].sum()))
            for s in candidates]
    fits.sort(key=lambda fit: fit[0])
    unexplained, share, name, volume = fits[0]
    network = _fit(missing, generated[use])[0]
    others = [fit[0] for fit in fits[1:]] + [network]
    if unexplained > _CLEARLY_BETTER * min(others) or share <= 0:
        return None, network < unexplained
    return (name, share, share * volume), False


def _fit(missing: np.ndarray, flow: np.ndarray) -> tuple[float, float]:
    """(residual sum of squares, share) of missing ≈ share × flow, share within [0, 1]."""
    share = float(np.clip(np.dot(missing, flow) / max(float(np.dot(flow, flow)), 1e-12), 0, 1))
    return float(np.sum((missing - share * flow) ** 2)), share


def _lagged_inflow(
    plant: HourLedger, generated: np.ndarray, ok: np.ndarray, gap_ns: float
) -> tuple[np.ndarray, np.ndarray]:
    """The plant's inflow per hour piece shifted by the travel time that best matches it to
    the generated flow (highest correlation over the measured hours), and the pieces whose
    shifted window still lies inside the checked range."""
    series = plant.flows.get("flow_in", ())
    edges = plant.hours.edges
    best = (plant.volumes["flow_in"], np.ones(len(ok), dtype=bool))
    best_corr = -np.inf
    for lag in _LAGS:
        shift = int(lag.total_seconds() * 1e9)
        inside = edges[1:] + shift <= edges[-1]
        use = ok & inside
        inflow = flow_volumes(series, edges + shift, gap_ns)[0]
        a, b = generated[use], inflow[use]
        if len(a) < 3 or a.std() == 0 or b.std() == 0:
            continue
        corr = float(np.corrcoef(a, b)[0, 1])
        if corr > best_corr:
            best, best_corr = (inflow, inside), corr
    return best
