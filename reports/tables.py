"""The report's CSV tables: machine-readable, language-independent, numbers as `check --json`.

Column names are stable snake_case keys; treatment and episode numbers are the rules'
`to_json()` values unchanged, so a table row equals the corresponding `check --json` row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from reports.cluster import ClusterReport
from reports.model import Report
from reports.province import ROW_COLUMNS, ProvinceReport

TABLES = ("daily", "parameters", "episodes", "treatment", "alerts", "data")
CLUSTER_TABLES = ("ledger", "members", "findings", "data")
PROVINCE_TABLES = ("clusters", "data")
_FINDING = ["plant", "station", "parameter", "kind", "basis", "start", "end", "value", "limit",
            "ratio", "severity", "note"]
Table = tuple[list[str], list[list[Any]]]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _iso(value: Any) -> str:
    return "" if value is None else value.isoformat()


def treatment_table(report: Report) -> Table:
    """Daily treatment rows then the period total (`date` = YYYY-MM or first/last day)."""
    header = ["plant", "date", "inflow_m3", "outflow_m3", "bypass_m3", "treated_ratio",
              "compliant_ratio"]
    rows = [[row.to_json()[h] for h in header] for row in report.treatment_days]
    if report.treatment_total is not None:
        total = report.treatment_total.to_json()
        rows.append([total[h] for h in header])
    return header, rows


def episodes_table(report: Report) -> Table:
    """Every finding of the period (SPEC finding fields) with its duration in minutes."""
    header = ["plant", "station", "parameter", "kind", "basis", "start", "end", "value", "limit",
              "ratio", "severity", "duration_minutes"]
    rows = []
    for episode in report.episodes:
        data = episode.finding.to_json()
        rows.append([*(data[h] for h in header[:-1]), round(episode.duration_minutes, 2)])
    return header, rows


def parameters_table(report: Report) -> Table:
    """Circular 10 Art. 25 figures per station and parameter."""
    header = ["station", "parameter", "unit", "limit_min", "limit_max", "valid_count", "min",
              "mean", "max", "over_limit", "episodes", "episode_minutes", "worst_ratio",
              "expected", "valid", "completeness", "calibrating_minutes", "error_minutes"]
    rows = [
        [p.station, p.parameter, p.unit, p.limit_min, p.limit_max, p.valid_count, _round(p.min),
         _round(p.mean), _round(p.max), p.over_limit, p.episodes, round(p.episode_minutes, 2),
         _round(p.worst_ratio, 2), p.expected, p.valid, _round(p.completeness),
         round(p.calibrating_minutes, 2), round(p.error_minutes, 2)]
        for p in report.parameters
    ]
    return header, rows


def daily_table(report: Report) -> Table:
    """One row per plant-local day: treatment, assessment and daily means of valid data."""
    header = ["date", "inflow_m3", "outflow_m3", "bypass_m3", "treated_ratio",
              "compliant_ratio", "over_limit", "episodes", "expected", "valid", "completeness",
              "status", *(f"mean_{k}" for k in report.day_parameters)]
    rows = []
    for day in report.days:
        treated = day.treatment.to_json() if day.treatment is not None else {}
        rows.append([
            day.date.isoformat(),
            *(treated.get(k) for k in header[1:6]),
            day.over_limit, day.episodes, day.expected, day.valid, _round(day.completeness),
            day.status, *(_round(day.means.get(k)) for k in report.day_parameters),
        ])
    return header, rows


def alerts_table(report: Report) -> Table:
    """Alert episodes with their acknowledgements (`reason`: the acknowledgement's code)."""
    header = ["id", "parameter", "kind", "severity", "state", "start", "end", "acked_by",
              "acked_at", "note", "reason"]
    rows = [
        [a.id, a.parameter, a.kind, a.severity, a.state, _iso(a.start), _iso(a.end),
         a.acked_by, _iso(a.acked_at), a.note, a.reason]
        for a in report.alerts
    ]
    return header, rows


def table_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV (UTF-8, `\\n` line ends); None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8")


def render_table(report: Report, name: str) -> bytes:
    """The CSV bytes of table `name` (one of TABLES); `data` is the hashed canonical data."""
    if name == "data":
        return report.data_csv
    builders = {
        "daily": daily_table,
        "parameters": parameters_table,
        "episodes": episodes_table,
        "treatment": treatment_table,
        "alerts": alerts_table,
    }
    header, rows = builders[name](report)
    return table_csv(header, rows)


def render_cluster_table(report: ClusterReport, name: str) -> bytes:
    """The CSV bytes of cluster table `name` (CLUSTER_TABLES): the ledger rows as `check
    --json` has them (days, then the period's row), the members, every finding (SPEC fields
    and the English `note`), and the hashed readings."""
    if name == "data":
        return report.provenance.data_csv
    if name == "ledger":
        rows = [*report.days, *([report.total] if report.total else [])]
        return table_csv(ROW_COLUMNS, [[r.to_json()[h] for h in ROW_COLUMNS] for r in rows])
    if name == "members":
        header = ["id", "name", "metered", "connection", "declared_flow_m3_day",
                  "discharged_m3", "verdict_status", "limit_episodes", "completeness"]
        return table_csv(header, [
            [m.id, m.name, m.metered, m.connection, m.declared_flow_m3_day,
             _round(m.discharged_m3, 3), m.standing.verdict_status if m.standing else None,
             m.standing.limit_episodes if m.standing else None,
             _round(m.standing.completeness) if m.standing else None]
            for m in report.members])
    findings = [*report.collection_findings, *report.plant_findings]
    return table_csv(_FINDING, [[f.to_json().get(h, "") for h in _FINDING] for f in findings])


def render_province_table(report: ProvinceReport, name: str) -> bytes:
    """The CSV bytes of province table `name` (PROVINCE_TABLES): one row per cluster, and the
    hashed ledger rows."""
    if name == "data":
        return report.provenance.data_csv
    header = ["cluster", "name", "province", "central_plant", "monitored_plants",
              "reporting_plants", "compliance", "violation_episodes", *ROW_COLUMNS[2:], "whole",
              "source"]
    rows = []
    for c in report.clusters:
        month = c.month.to_json() if c.month is not None else {}
        rows.append([c.layout.id, c.layout.name, c.layout.province,
                     c.layout.central.id if c.layout.central else None, len(c.reporting),
                     c.reporting_count, c.compliance.status, c.compliance.episodes,
                     *(month.get(h) for h in ROW_COLUMNS[2:7]), c.target_met, c.whole, c.source])
    return table_csv(header, rows)
