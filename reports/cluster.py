"""The cluster report: a cluster's central plant, member factories and its collection and
treatment ledger over one period, computed once and rendered many ways (as `reports.model`).

`build_cluster_report` is pure: the cluster's layout, its ledger (`rules.collection`), the
report model of each of its monitored plants (`reports.model.build_report`, so a plant reads
here exactly as in its own report) and the period go in; a frozen `ClusterReport` comes out.
Metered members are judged by their own checks; declared members by their declaration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from reports.errors import ReportsError
from reports.labels import Labels, Told, labels_for
from reports.model import (
    DATA_KINDS,
    LIMIT_KINDS,
    NONCOMPLIANCE_KINDS,
    Provenance,
    Report,
    canonical_csv,
    period_label,
)
from rules.cluster import ClusterLayout
from rules.collection import ClusterLedger
from rules.errors import RulesError
from rules.findings import Finding
from rules.results import ClusterRow, TreatmentRow
from rules.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class PlantStanding:
    """A monitored plant of the cluster (central plant or metered member) as its own checks
    judged it: its report's verdict, episodes over its limits, data completeness."""

    id: str
    name: str
    judged_by: str  # "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0", the connection rules, …
    verdict_status: str  # reports.model.Report.verdict_status
    verdict: str
    limit_episodes: int
    violations: int  # non-compliance episodes of every kind (limits, bypass, shortfall)
    completeness: float | None
    treatment: TreatmentRow | None  # the period total (central plant only)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A member factory: how it connects, what it discharged, how it is judged."""

    id: str
    name: str
    connection: str  # rules.permit.Connection
    metered: bool
    declared_flow_m3_day: float | None
    discharged_m3: float | None
    standing: PlantStanding | None  # metered members only


@dataclass(frozen=True, slots=True)
class ClusterReport(Told):
    """A cluster's report for one period, in one language."""

    lang: str
    cluster: str
    name: str
    province: str
    timezone: str
    start: datetime
    end: datetime
    period: str
    central: PlantStanding | None
    members: tuple[MemberRow, ...]
    days: tuple[ClusterRow, ...]
    total: ClusterRow | None
    judged: bool  # the whole period is over: the total's target is a verdict
    verdict_status: str  # "met" | "not_met" | "not_judged"
    verdict: str
    collection_findings: tuple[Finding, ...]
    plant_findings: tuple[Finding, ...]  # non-compliance at the cluster's plants
    notes: tuple[str, ...]
    provenance: Provenance

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def note_of(self, finding: Finding) -> str:
        """A finding's explanation in the report's language ("" when it has none)."""
        if finding.explanation is None:
            return ""
        text = self.words.collection_note(finding.explanation)
        return text[:1].upper() + text[1:]  # a table cell starts a sentence

    def finding_value(self, finding: Finding, value: float | None) -> str:
        """A finding's value or limit as the report prints it (`Vocabulary.format_figure`)."""
        return self.words.format_figure(finding.kind, value)

    def plant_name(self, plant_id: str) -> str:
        """The name of one of the cluster's plants (its id when unknown)."""
        if self.central is not None and self.central.id == plant_id:
            return self.central.name
        if plant_id == self.cluster:
            return self.name
        return next((m.name for m in self.members if m.id == plant_id), plant_id)


def standing_of(report: Report) -> PlantStanding:
    """A plant report reduced to what the cluster report says of that plant."""
    completeness = [p.completeness for p in report.parameters
                    if p.station in report.discharge_stations and p.completeness is not None]
    limit_episodes = sum(1 for e in report.episodes if e.finding.kind in LIMIT_KINDS)
    return PlantStanding(
        id=report.plant.id, name=report.plant.name,
        judged_by=_terms(report), verdict_status=report.verdict_status,
        verdict=report.verdict, limit_episodes=limit_episodes,
        violations=sum(1 for e in report.episodes if e.finding.kind in NONCOMPLIANCE_KINDS),
        completeness=min(completeness) if completeness else None,
        treatment=report.treatment_total,
    )


def _terms(report: Report) -> str:
    plant, words = report.plant, report.words
    if plant.connection_rules:
        return plant.judged_by
    try:
        return words.regulation_terms(plant.regulation, plant.column, plant.kq, plant.kf)
    except RulesError:
        return plant.judged_by


def build_cluster_report(
    layout: ClusterLayout,
    ledger: ClusterLedger,
    plants: Mapping[str, Report],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    lang: str = "vi",
    generated_at: datetime,
    tolerance: float,
    version: str | None = None,
) -> ClusterReport:
    """Assemble the cluster's report over `[start, end)` (a plant-local month) from its ledger
    and the report of each monitored plant (`plants`: id → report of the same period and
    language). `now` tells whether the period is over (else the month so far is shown and
    not judged)."""
    if start.tzinfo is None or end.tzinfo is None or generated_at.tzinfo is None:
        raise ReportsError("report times must be timezone-aware")
    if end <= start:
        raise ReportsError("report period ends before it starts")
    missing = [p.id for p in layout.plants if p.id not in plants]
    if missing:
        raise ReportsError(f"cluster {layout.id}: no report of plant(s) {', '.join(missing)}")
    labels, words = labels_for(lang), Vocabulary.for_lang(lang)
    zone = layout.zone
    days = tuple(r for r in ledger.rows if r.cluster == layout.id and len(r.date) == 10)
    months = [r for r in ledger.rows if r.cluster == layout.id and len(r.date) == 7]
    total = months[0] if len(months) == 1 else None
    judged = end <= now
    central = standing_of(plants[layout.central.id]) if layout.central else None
    members = tuple(
        MemberRow(
            id=m.id, name=m.name, connection=m.connection, metered=m.metered,
            declared_flow_m3_day=None if m.metered else m.declared_flow_m3_day,
            discharged_m3=ledger.members.get(m.id),
            standing=standing_of(plants[m.id]) if m.plant is not None else None,
        )
        for m in layout.members
    )
    collection = tuple(sorted((f for f in ledger.findings if f.kind == "collection_shortfall"),
                              key=lambda f: (f.basis != "month", f.start)))
    plant_findings = tuple(sorted(
        (e.finding for r in plants.values() for e in r.episodes
         if e.finding.kind in NONCOMPLIANCE_KINDS),
        key=lambda f: (f.start, f.plant, f.station, f.parameter)))
    readings = pd.concat([r.readings for r in plants.values()], ignore_index=True) \
        if plants else pd.DataFrame()
    data_csv = canonical_csv(readings) if plants else b"time,plant,station\n"
    period = period_label(start, end, zone)
    status, verdict = _verdict(labels, words, layout, total, judged, collection, members,
                               central, whole_month=len(period) == 7)
    return ClusterReport(
        lang=lang, cluster=layout.id, name=layout.name, province=layout.province,
        timezone=layout.timezone, start=start.astimezone(zone), end=end.astimezone(zone),
        period=period, central=central, members=members, days=days,
        total=total, judged=judged, verdict_status=status, verdict=verdict,
        collection_findings=collection, plant_findings=plant_findings,
        notes=_notes(labels, words, layout, plants, members, tolerance, judged),
        provenance=Provenance.of(data_csv, len(readings), generated_at, zone, version),
    )


def _verdict(
    labels: Labels, words: Vocabulary, layout: ClusterLayout, total: ClusterRow | None,
    judged: bool, collection: Sequence[Finding], members: Sequence[MemberRow],
    central: PlantStanding | None, whole_month: bool,
) -> tuple[str, str]:
    ratios = labels["cluster_ratios"].format(
        collection=words.format_percent(total.collection_ratio) if total else "–",
        treatment=words.format_percent(total.treatment_ratio) if total else "–")
    if not judged or total is None or total.target_met is None:
        reason = (labels["cluster_running"] if not judged
                  else labels["cluster_unmeasured"] if whole_month
                  else labels["cluster_not_a_month"])
        return "not_judged", labels["cluster_verdict_not_judged"].format(
            reason=reason, ratios=ratios)
    if total.target_met:
        return "met", labels["cluster_verdict_met"].format(ratios=ratios)
    issues = [ratios]
    if central is not None and central.violations:
        issues.append(labels["cluster_issue_central"].format(count=central.violations))
    if layout.central is None:
        issues.append(words.in_sentence(words.cluster_term("no_central_plant")))
    unconnected = [m.id for m in members if m.connection == "not_connected"]
    if unconnected:
        issues.append(labels["cluster_issue_unconnected"].format(
            count=len(unconnected), members=", ".join(unconnected)))
    short_days = sum(1 for f in collection if f.basis == "day")
    if short_days:
        issues.append(labels["cluster_issue_short_days"].format(count=short_days))
    return "not_met", labels["cluster_verdict_not_met"].format(issues="; ".join(issues))


def _notes(
    labels: Labels, words: Vocabulary, layout: ClusterLayout, plants: Mapping[str, Report],
    members: Sequence[MemberRow], tolerance: float, judged: bool,
) -> tuple[str, ...]:
    notes = [labels["cluster_note_method"].format(
        tolerance=words.format_percent(tolerance, 0))]
    if any(not m.metered and m.connection != "own_treatment" for m in members):
        notes.append(labels["cluster_note_declared"])
    if any(m.connection == "own_treatment" for m in members):
        notes.append(labels["cluster_note_own_treatment"])
    for plant_id, report in plants.items():
        data = [e.finding for e in report.episodes if e.finding.kind in DATA_KINDS]
        if data:
            notes.append(labels["cluster_note_data"].format(
                plant=report.plant.name or plant_id, count=len(data)))
    if not judged:
        notes.append(labels["cluster_note_running"])
    return tuple(notes)
