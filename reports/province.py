"""The province roll-up: every cluster of the province for one month — central WWTP or not,
online monitoring reporting, month compliance, collection and treatment ratios, the 100 %
target — and the province totals ("2 of 3 clusters have a central WWTP").

`build_province_report` is pure: one `ClusterStanding` per cluster (built by the command
line from what the scheduled checks kept, or computed from the readings) goes in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reports.errors import ReportsError
from reports.labels import Labels, Told, labels_for
from reports.model import DATA_KINDS, NONCOMPLIANCE_KINDS, Provenance, period_label
from rules.cluster import ClusterLayout
from rules.collection import month_to_date
from rules.findings import Finding
from rules.results import ClusterRow
from rules.vocabulary import Vocabulary

# A cluster's month compliance: its monitored plants' findings in the month.
COMPLIANCE = ("compliant", "compliant_incomplete", "noncompliant", "unmonitored")
ROW_COLUMNS = ("cluster", "date", "generated_m3", "collected_m3", "treated_compliant_m3",
               "collection_ratio", "treatment_ratio", "target_met")


@dataclass(frozen=True, slots=True)
class PlantReporting:
    """Whether a monitored plant's stations reported in the reporting window: the records of
    its least complete station against the records its interval expects there."""

    plant: str
    records: int
    expected: int
    min_fraction: float

    @property
    def fraction(self) -> float:
        return 0.0 if self.expected <= 0 else min(1.0, self.records / self.expected)

    @property
    def reporting(self) -> bool:
        return self.records > 0 and self.fraction >= self.min_fraction


@dataclass(frozen=True, slots=True)
class Compliance:
    """A cluster's month compliance from its monitored plants' findings."""

    status: str  # one of COMPLIANCE
    episodes: int  # non-compliance episodes (exceedance, below minimum, bypass, shortfall)
    plants: tuple[str, ...]  # the plants they were found at

    @classmethod
    def of(cls, findings: Iterable[Finding], monitored: bool) -> Compliance:
        """Judge the findings of the cluster's monitored plants (none monitored: unmonitored)."""
        found = list(findings)
        bad = [f for f in found if f.kind in NONCOMPLIANCE_KINDS]
        if not monitored:
            return cls("unmonitored", 0, ())
        if bad:
            return cls("noncompliant", len(bad), tuple(sorted({f.plant for f in bad})))
        if any(f.kind in DATA_KINDS for f in found):
            return cls("compliant_incomplete", 0, ())
        return cls("compliant", 0, ())


@dataclass(frozen=True, slots=True)
class ClusterStanding:
    """One cluster in the roll-up: its layout, the month's ledger row (None: the cluster
    keeps no ledger) and its days, whether the month is judged whole, its monitored plants'
    reporting and compliance, and where the figures come from (`stored`: the check book,
    `computed`: the readings)."""

    layout: ClusterLayout
    month: ClusterRow | None
    days: tuple[ClusterRow, ...]
    whole: bool
    reporting: tuple[PlantReporting, ...]
    compliance: Compliance
    collection_findings: tuple[Finding, ...]
    source: str

    @property
    def reporting_count(self) -> int:
        return sum(1 for r in self.reporting if r.reporting)

    @property
    def all_reporting(self) -> bool | None:
        """Every monitored plant reporting; None when the cluster has no online monitoring."""
        return None if not self.reporting else self.reporting_count == len(self.reporting)

    @property
    def target_met(self) -> bool | None:
        return self.month.target_met if self.month is not None and self.whole else None


@dataclass(frozen=True, slots=True)
class ProvinceTotals:
    """The province's figures over its clusters."""

    clusters: int
    with_central: int
    monitored: int  # clusters with some online monitoring
    reporting: int  # of those, every monitored plant reporting
    judged: int  # clusters whose 100 % target could be judged
    met: int
    noncompliant: int
    generated_m3: float
    collected_m3: float
    treated_compliant_m3: float
    collection_ratio: float | None
    treatment_ratio: float | None


@dataclass(frozen=True, slots=True)
class ProvinceReport(Told):
    """The province roll-up of one month, in one language."""

    lang: str
    province: str
    timezone: str
    start: datetime
    end: datetime
    period: str
    clusters: tuple[ClusterStanding, ...]
    totals: ProvinceTotals
    reporting_from: datetime
    reporting_to: datetime
    notes: tuple[str, ...]
    provenance: Provenance

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def ledger_csv(rows: Sequence[ClusterRow]) -> bytes:
    """The canonical CSV of ledger rows, the data a roll-up's SHA-256 is taken over: the
    `check --json` cluster fields in that order, rows sorted by cluster then date (a month's
    row before its days), numbers as `to_json()` rounds them, `true`/`false`/empty for the
    target; UTF-8, `\\n` line ends, no quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
    writer.writerow(ROW_COLUMNS)
    for row in sorted(rows, key=lambda r: (r.cluster, r.date)):
        data = row.to_json()
        writer.writerow([_cell(data[name]) for name in ROW_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def build_province_report(
    clusters: Sequence[ClusterStanding],
    start: datetime,
    end: datetime,
    *,
    lang: str = "vi",
    generated_at: datetime,
    reporting_window: tuple[datetime, datetime],
    reporting_min_fraction: float,
    tolerance: float,
    version: str | None = None,
) -> ProvinceReport:
    """Assemble the roll-up of `clusters` over the month `[start, end)`; `reporting_window`
    is the span in which a monitored plant had to report."""
    if not clusters:
        raise ReportsError("the province report needs at least one cluster")
    if start.tzinfo is None or end.tzinfo is None or generated_at.tzinfo is None:
        raise ReportsError("report times must be timezone-aware")
    labels, words = labels_for(lang), Vocabulary.for_lang(lang)
    zone = clusters[0].layout.zone
    provinces = sorted({c.layout.province for c in clusters if c.layout.province})
    rows = [r for c in clusters for r in ((c.month,) if c.month else ()) + c.days]
    data_csv = ledger_csv(rows)
    return ProvinceReport(
        lang=lang, province=", ".join(provinces), timezone=clusters[0].layout.timezone,
        start=start.astimezone(zone), end=end.astimezone(zone),
        period=period_label(start, end, zone), clusters=tuple(clusters),
        totals=_totals(clusters), reporting_from=reporting_window[0].astimezone(zone),
        reporting_to=reporting_window[1].astimezone(zone),
        notes=_notes(labels, words, clusters, reporting_window, reporting_min_fraction,
                     tolerance),
        provenance=Provenance.of(data_csv, len(rows), generated_at, zone, version),
    )


def _totals(clusters: Sequence[ClusterStanding]) -> ProvinceTotals:
    # the clusters' month rows added up as the ledger adds days up: volumes summed, ratios
    # from the summed volumes they were measured over
    whole = month_to_date([c.month for c in clusters if c.month is not None], "", "",
                          central=True)
    monitored = [c for c in clusters if c.reporting]
    return ProvinceTotals(
        clusters=len(clusters),
        with_central=sum(1 for c in clusters if c.layout.central is not None),
        monitored=len(monitored),
        reporting=sum(1 for c in monitored if c.all_reporting),
        judged=sum(1 for c in clusters if c.target_met is not None),
        met=sum(1 for c in clusters if c.target_met),
        noncompliant=sum(1 for c in clusters if c.compliance.status == "noncompliant"),
        generated_m3=whole.generated_m3, collected_m3=whole.collected_m3,
        treated_compliant_m3=whole.treated_compliant_m3,
        collection_ratio=whole.collection_ratio, treatment_ratio=whole.treatment_ratio,
    )


def _notes(
    labels: Labels, words: Vocabulary, clusters: Sequence[ClusterStanding],
    window: tuple[datetime, datetime], min_fraction: float, tolerance: float,
) -> tuple[str, ...]:
    zone = clusters[0].layout.zone
    hours = (window[1] - window[0]) / timedelta(hours=1)
    notes = [
        labels["province_note_reporting"].format(
            hours=words.format_decimal(hours, 1),
            start=words.format_datetime(window[0], zone),
            end=words.format_datetime(window[1], zone),
            fraction=words.format_percent(min_fraction, 0)),
        labels["province_note_compliance"],
        labels["province_note_ratios"].format(tolerance=words.format_percent(tolerance, 0)),
    ]
    if any(c.month is not None and not c.whole for c in clusters):
        notes.append(labels["province_note_month_so_far"])
    lone = [c.layout.id for c in clusters if c.month is None]
    if lone:
        notes.append(labels["province_note_no_ledger"].format(clusters=", ".join(lone)))
    computed = [c.layout.id for c in clusters if c.source == "computed"]
    if computed:
        notes.append(labels["province_note_computed"].format(clusters=", ".join(computed)))
    return tuple(notes)
