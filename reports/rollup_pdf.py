"""PDF rendering of the cluster report and the province roll-up (reportlab, through the
toolkit of `reports.pdf`: the same page, fonts, styles and tables as a plant's report)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from reports.charts import Chart
from reports.cluster import ClusterReport, PlantStanding
from reports.pdf import Styles, build_pdf, chart_image, grid, heading, para
from reports.province import ClusterStanding, ProvinceReport
from rules.results import ClusterRow


def _standing_text(report: ClusterReport, standing: PlantStanding) -> str:
    L = report.labels
    if standing.verdict_status == "noncompliant" and standing.limit_episodes:
        return L["noncompliant_count"].format(count=standing.limit_episodes)
    return L[f"verdict_short_{standing.verdict_status}"]


def _ledger_cells(report: ClusterReport, row: ClusterRow, label: str) -> list[str]:
    words = report.words
    num, pct = words.format_number, words.format_percent
    return [label, num(row.generated_m3, 0), num(row.collected_m3, 0),
            num(row.treated_compliant_m3, 0), pct(row.collection_ratio),
            pct(row.treatment_ratio), words.target(row.target_met)]


def _provenance(report: ClusterReport | ProvinceReport, styles: Styles, rows_label: str,
                note: str) -> list[Flowable]:
    """The provenance table (when, which version, how many rows, the hash) and how to
    verify the hash, kept on one page."""
    L, made = report.labels, report.provenance
    rows = [
        (L["generated_at"], report.words.format_datetime(made.generated_at, report.zone)),
        (L["software_version"], f"quantrac {made.software_version}"),
        (L[rows_label], str(made.data_rows)), (L["data_sha256"], made.data_sha256),
    ]
    return [KeepTogether([
        para(L["section_provenance"], styles.h2),
        grid(["", ""], [[para(k, styles.head), para(v, styles.cell)] for k, v in rows], styles,
             widths=[60 * mm, 130 * mm]),
        para(note, styles.body),
    ])]


def _cluster_story(report: ClusterReport, charts: Sequence[Chart],
                   styles: Styles) -> list[Flowable]:
    words, L = report.words, report.labels
    num = words.format_number
    zone = report.zone

    def dt(value: datetime | None) -> str:
        return words.format_datetime(value, zone)

    def cell(text: str) -> Flowable:
        return para(text, styles.cell)

    story: list[Flowable] = [
        *heading(report, f"{L['cluster_title']}: {report.name}", L["cluster_subtitle"],
                 f"{L['verdict']}: {report.verdict}", styles),
        para(L["section_cluster"], styles.h2),
    ]
    central = report.central
    identity = [
        (words.cluster_term("cluster"), report.name), (L["cluster_id"], report.cluster),
        (words.cluster_term("province"), report.province),
        (words.cluster_term("central_plant"),
         central.name if central else words.cluster_term("no_central_plant")),
        (words.cluster_term("member_factories"), str(len(report.members))),
    ]
    story.append(grid(["", ""], [[para(k, styles.head), cell(v)] for k, v in identity],
                      styles, widths=[60 * mm, 150 * mm]))

    story.append(para(L["section_central"], styles.h2))
    if central is not None:
        facts = [(L["plant"], f"{central.name} ({central.id})"),
                 (L["judged_by"], central.judged_by),
                 (L["verdict"], central.verdict)]
        if central.treatment is not None:
            t = central.treatment
            facts += [(L["inflow"], num(t.inflow_m3, 0)), (L["outflow"], num(t.outflow_m3, 0)),
                      (L["compliant_ratio"], words.format_percent(t.compliant_ratio))]
        facts.append((L["completeness"], words.format_percent(central.completeness)))
        story.append(grid(["", ""], [[para(k, styles.head), cell(v)] for k, v in facts],
                          styles, widths=[60 * mm, 150 * mm]))
    else:
        story.append(para(words.cluster_term("no_central_plant") + ".", styles.body))

    story.append(para(L["section_members"], styles.h2))
    if report.members:
        story.append(grid(
            [L["member_id"], L["member"], L["monitoring"], L["connection"],
             words.cluster_term("declared_flow"), words.cluster_term("discharged"),
             L["judged_by"], L["compliance"]],
            [[cell(m.id), cell(m.name),
              cell(words.cluster_term("metered" if m.metered else "declared")),
              cell(words.connection(m.connection)), num(m.declared_flow_m3_day, 0),
              num(m.discharged_m3, 0), cell(m.standing.judged_by if m.standing else ""),
              cell(_standing_text(report, m.standing) if m.standing else L["by_declaration"])]
             for m in report.members],
            styles, widths=[33 * mm, 50 * mm, 29 * mm, 27 * mm, 23 * mm, 23 * mm, 46 * mm,
                            42 * mm]))
    else:
        story.append(para(L["none"], styles.body))

    story.append(para(L["section_ledger"], styles.h2))
    rows = [_ledger_cells(report, r, words.format_date(date.fromisoformat(r.date)))
            for r in report.days]
    if report.total is not None:
        rows.append(_ledger_cells(report, report.total,
                                  L["total"] if report.judged else L["month_so_far"]))
    story.append(grid(
        [L["date"], *(words.cluster_term(k) for k in (
            "generated", "collected", "treated_compliant", "collection_ratio",
            "treatment_ratio", "target_met"))],
        rows, styles, widths=[32 * mm, 36 * mm, 36 * mm, 36 * mm, 32 * mm, 32 * mm, 36 * mm],
        total=report.total is not None))
    for chart in charts:
        story.append(KeepTogether([Spacer(1, 4), chart_image(chart, 70 * mm)]))

    story.append(para(L["section_collection_findings"], styles.h2))
    if report.collection_findings:
        story.append(grid(
            [L["basis"], L["start"], L["end"], words.cluster_term("collection_ratio"),
             L["severity"], L["note"]],
            [[cell(words.basis(f.basis)), dt(f.start), dt(f.end),
              report.finding_value(f, f.value), cell(words.severity(f.severity)),
              cell(report.note_of(f))] for f in report.collection_findings],
            styles, widths=[25 * mm, 27 * mm, 27 * mm, 24 * mm, 22 * mm, 148 * mm]))
    else:
        story.append(para(L["none"], styles.body))

    story.append(para(L["section_plant_findings"], styles.h2))
    if report.plant_findings:
        story.append(grid(
            [L["plant"], L["station"], L["parameter"], L["kind"], L["basis"], L["start"],
             L["end"], L["value"], L["limit"], L["severity"]],
            [[cell(report.plant_name(f.plant)), cell(words.station(f.station)),
              cell(words.parameter(f.parameter)), cell(words.kind(f.kind)),
              cell(words.basis(f.basis)), dt(f.start), dt(f.end),
              report.finding_value(f, f.value), report.finding_value(f, f.limit),
              cell(words.severity(f.severity))]
             for f in report.plant_findings],
            styles, widths=[48 * mm, 24 * mm, 34 * mm, 30 * mm, 24 * mm, 27 * mm, 27 * mm,
                            18 * mm, 18 * mm, 23 * mm]))
    else:
        story.append(para(L["none"], styles.body))

    story.append(para(L["section_notes"], styles.h2))
    story += [para(f"• {note}", styles.body) for note in report.notes]
    story += _provenance(report, styles, "data_rows", L["hash_note_cluster"])
    return story


def render_cluster_pdf(report: ClusterReport, charts: Sequence[Chart] = ()) -> bytes:
    """The cluster report as PDF bytes (A4 landscape, fonts embedded)."""
    return build_pdf(
        _cluster_story(report, charts, Styles()),
        title=f"{report.labels['cluster_title']} — {report.name} — {report.period_text}",
        version=report.provenance.software_version,
        subject=report.labels["cluster_subtitle"],
        footer=f"{report.cluster} · {report.period_text} · "
               f"SHA-256 {report.provenance.data_sha256[:16]}…",
    )


def _reporting_text(report: ProvinceReport, standing: ClusterStanding) -> str:
    if not standing.reporting:
        return "–"
    word = report.words.cluster_term("yes" if standing.all_reporting else "no")
    return f"{word} ({standing.reporting_count}/{len(standing.reporting)})"


def _compliance_text(report: ProvinceReport, standing: ClusterStanding) -> str:
    L = report.labels
    if standing.compliance.status == "noncompliant":
        return L["noncompliant_count"].format(count=standing.compliance.episodes)
    return L[f"verdict_short_{standing.compliance.status}"]


def _target_text(report: ProvinceReport, standing: ClusterStanding) -> str:
    if standing.month is None:
        return "–"
    text = report.words.target(standing.target_met)
    if not standing.whole:
        text += f" ({report.labels['month_so_far'].lower()})"
    return text


def _province_story(report: ProvinceReport, styles: Styles) -> list[Flowable]:
    words, L = report.words, report.labels
    num, pct = words.format_number, words.format_percent
    totals = report.totals

    def dt(value: datetime | None) -> str:
        return words.format_datetime(value, report.zone)

    def cell(text: str) -> Flowable:
        return para(text, styles.cell)

    province = report.province or L["all_provinces"]
    story: list[Flowable] = [
        *heading(report, f"{L['province_title']}: {province}", L["province_subtitle"],
                 L["province_total_central"].format(count=totals.with_central,
                                                    total=totals.clusters), styles),
        para(L["section_totals"], styles.h2),
    ]
    lines = [
        L["province_total_reporting"].format(count=totals.reporting, monitored=totals.monitored),
        L["province_total_met"].format(met=totals.met, total=totals.clusters,
                                       judged=totals.judged),
        L["province_total_noncompliant"].format(count=totals.noncompliant),
        L["province_total_volumes"].format(
            generated=num(totals.generated_m3, 0), collected=num(totals.collected_m3, 0),
            treated=num(totals.treated_compliant_m3, 0),
            collection=pct(totals.collection_ratio), treatment=pct(totals.treatment_ratio)),
    ]
    story += [para(f"• {line}", styles.body) for line in lines]

    story.append(para(L["section_clusters"], styles.h2))
    rows = []
    for c in report.clusters:
        m = c.month
        rows.append([
            cell(c.layout.id), cell(c.layout.name),
            cell(words.cluster_term("yes" if c.layout.central else "no")),
            cell(_reporting_text(report, c)), cell(_compliance_text(report, c)),
            num(m.generated_m3 if m else None, 0), num(m.collected_m3 if m else None, 0),
            num(m.treated_compliant_m3 if m else None, 0),
            pct(m.collection_ratio if m else None), pct(m.treatment_ratio if m else None),
            cell(_target_text(report, c)),
        ])
    story.append(grid(
        [L["cluster_id"], words.cluster_term("cluster"), words.cluster_term("central_plant"),
         L["online_monitoring"], L["month_compliance"],
         *(words.cluster_term(k) for k in ("generated", "collected", "treated_compliant",
                                           "collection_ratio", "treatment_ratio",
                                           "target_met"))],
        rows, styles, widths=[20 * mm, 52 * mm, 18 * mm, 25 * mm, 30 * mm, 20 * mm, 20 * mm,
                              20 * mm, 19 * mm, 19 * mm, 30 * mm]))

    story.append(para(L["section_notes"], styles.h2))
    story += [para(f"• {note}", styles.body) for note in report.notes]
    story += _provenance(report, styles, "data_rows_ledger", L["hash_note_province"])
    return story


def render_province_pdf(report: ProvinceReport) -> bytes:
    """The province roll-up as PDF bytes (A4 landscape, fonts embedded)."""
    province = report.province or report.labels["all_provinces"]
    return build_pdf(
        _province_story(report, Styles()),
        title=f"{report.labels['province_title']} — {province} — {report.period_text}",
        version=report.provenance.software_version,
        subject=report.labels["province_subtitle"],
        footer=f"{province} · {report.period_text} · "
               f"SHA-256 {report.provenance.data_sha256[:16]}…",
    )
