"""PDF rendering with reportlab, embedding DejaVu Sans (from matplotlib's data) for Vietnamese.

No system font is needed: matplotlib ships DejaVuSans.ttf and DejaVuSans-Bold.ttf, which cover
every Vietnamese letter with its diacritics. All text from config or data is XML-escaped
before it reaches a reportlab Paragraph (whose text is markup).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports.charts import Chart
from reports.errors import ReportsError
from reports.labels import Told
from reports.model import Report

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
PAGE = landscape(A4)
MARGIN = 12 * mm


def font_paths() -> tuple[Path, Path]:
    """Regular and bold DejaVu Sans shipped inside matplotlib."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


def _register_fonts() -> None:
    # reportlab keeps its own font registry; registering twice is harmless but wasteful.
    registered = set(pdfmetrics.getRegisteredFontNames())
    regular, bold = font_paths()
    for name, path in ((FONT, regular), (FONT_BOLD, bold)):
        if name in registered:
            continue
        if not path.is_file():
            raise ReportsError(f"font {path} not found (matplotlib data files missing?)")
        pdfmetrics.registerFont(TTFont(name, str(path)))


class Styles:
    """Paragraph styles of one document (built per render: no shared mutable state); the
    fonts they name are registered first (a paragraph resolves its font when made)."""

    def __init__(self) -> None:
        _register_fonts()
        self.title = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=16, leading=20)
        self.h2 = ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=12, leading=15,
                                 spaceBefore=8, spaceAfter=4)
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
        self.verdict = ParagraphStyle("verdict", fontName=FONT_BOLD, fontSize=11, leading=14,
                                      borderWidth=1.5, borderColor=colors.black,
                                      borderPadding=5, spaceBefore=6, spaceAfter=8)
        self.cell = ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=8.5)
        self.head = ParagraphStyle("head", fontName=FONT_BOLD, fontSize=7, leading=8.5)


def para(text: Any, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: reportlab reads markup)."""
    return Paragraph(escape(str(text)), style)


def grid(header: Sequence[str], rows: Sequence[Sequence[Any]], styles: Styles,
         widths: Sequence[float] | None = None, total: bool = False) -> Table:
    """A table with a repeated, shaded header row (and a bold last row when `total`)."""
    data: list[list[Any]] = [[para(h, styles.head) for h in header]]
    for row in rows:
        data.append([cell if isinstance(cell, Flowable) else str(cell) for cell in row])
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("LEADING", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if total:
        commands.append(("FONTNAME", (0, -1), (-1, -1), FONT_BOLD))
    table.setStyle(TableStyle(commands))
    return table


def chart_image(chart: Chart, height: float) -> Image:
    """A chart's PNG scaled down (never up) to the page's width and at most `height`."""
    image = Image(io.BytesIO(chart.png), hAlign="LEFT")
    scale = min(1.0, (PAGE[0] - 2 * MARGIN) / image.imageWidth, height / image.imageHeight)
    image.drawWidth = image.imageWidth * scale
    image.drawHeight = image.imageHeight * scale
    return image


def heading(report: Told, title: str, subtitle: str, box: str,
            styles: Styles) -> list[Flowable]:
    """A report's first lines: its title, the subtitle with the period (its bounds and time
    zone), and the boxed line a reader must not miss (the verdict, the province headline)."""
    words, zone = report.words, report.start.tzinfo or UTC  # the period is in the report's zone
    span = (f"{words.format_datetime(report.start, zone)} – "
            f"{words.format_datetime(report.end, zone)}, {zone}")
    return [
        para(title, styles.title),
        para(f"{subtitle} · {report.labels['period']} {report.period_text} ({span})",
             styles.body),
        para(box, styles.verdict),
    ]


def _story(report: Report, charts: Sequence[Chart], styles: Styles) -> list[Flowable]:
    words = report.words
    L = report.labels.text  # same short names as in the HTML template
    plant = report.plant
    zone = report.zone
    num, pct, dec = words.format_number, words.format_percent, words.format_decimal

    def dt(value: datetime | None) -> str:
        return words.format_datetime(value, zone)

    story: list[Flowable] = [
        *heading(report, f"{L['title']}: {plant.name}", L["subtitle"],
                 f"{L['verdict']}: {report.verdict}", styles),
        para(L["section_permit"], styles.h2),
    ]
    identity = [
        (L["plant"], plant.name), (L["plant_id"], plant.id), (L["cluster"], plant.cluster),
        (L["design_flow"], num(plant.design_flow_m3_day, 0)),
        (L["regulation"], plant.judged_by or words.designation(plant.regulation)),
    ]
    if not plant.connection_rules:  # a connected factory has no column or coefficients
        identity += [(L["column"], plant.column), (L["kq"], words.format_coefficient(plant.kq)),
                     (L["kf"], words.format_coefficient(plant.kf))]
    story.append(grid(["", ""], [[para(k, styles.head), para(v, styles.cell)] for k, v in identity],
                        styles, widths=[60 * mm, 120 * mm]))
    story.append(Spacer(1, 4))
    story.append(grid(
        [L["parameter"], L["limit_min"], L["limit_max"], L["unit"], L["source"]],
        [[para(words.parameter(r.parameter), styles.cell), dec(r.min), dec(r.max),
          para(r.unit, styles.cell), para(r.source, styles.cell)] for r in report.limits],
        styles, widths=[55 * mm, 25 * mm, 25 * mm, 25 * mm, 110 * mm]))
    for note in report.limit_notes:
        story.append(para(note, styles.body))

    story.append(para(L["section_treatment"], styles.h2))
    rows = [[words.format_date(date.fromisoformat(r.date)), num(r.inflow_m3, 1),
             num(r.outflow_m3, 1), num(r.bypass_m3, 1), pct(r.treated_ratio),
             pct(r.compliant_ratio)] for r in report.treatment_days]
    total = report.treatment_total
    if total is not None:
        rows.append([L["month_total"], num(total.inflow_m3, 1), num(total.outflow_m3, 1),
                     num(total.bypass_m3, 1), pct(total.treated_ratio),
                     pct(total.compliant_ratio)])
    story.append(grid([L["date"], L["inflow"], L["outflow"], L["bypass"], L["treated_ratio"],
                         L["compliant_ratio"]], rows, styles, total=total is not None))

    story.append(para(L["section_parameters"], styles.h2))
    story.append(grid(
        [L["station"], L["parameter"], L["limit"], L["valid_count"], L["min"], L["mean"],
         L["max"], L["over_limit"], L["episodes"], L["episode_minutes"], L["worst_ratio"],
         L["completeness"], L["calibrating_minutes"], L["error_minutes"]],
        [[para(words.station(p.station), styles.cell),
          para(words.parameter(p.parameter), styles.cell),
          para(words.format_limit(p.limit_min, p.limit_max, p.unit), styles.cell), p.valid_count,
          num(p.min), num(p.mean), num(p.max), p.over_limit, p.episodes,
          num(p.episode_minutes, 0), num(p.worst_ratio), pct(p.completeness),
          num(p.calibrating_minutes, 0), num(p.error_minutes, 0)] for p in report.parameters],
        styles, widths=[18 * mm, 32 * mm, 24 * mm] + [18.5 * mm] * 11))

    story.append(para(L["section_episodes"], styles.h2))
    if report.episodes:
        story.append(grid(
            [L["station"], L["parameter"], L["kind"], L["basis"], L["start"], L["end"],
             L["duration_minutes"], L["value"], L["limit"], L["ratio"], L["severity"]],
            [[words.station(e.finding.station), words.parameter(e.finding.parameter),
              words.kind(e.finding.kind), words.basis(e.finding.basis),
              dt(e.finding.start), dt(e.finding.end),
              num(e.duration_minutes, 0), words.format_figure(e.finding.kind, e.finding.value),
              words.format_figure(e.finding.kind, e.finding.limit, limit=True),
              num(e.finding.ratio), words.severity(e.finding.severity)]
             for e in report.episodes],
            styles))
    else:
        story.append(para(L["none"], styles.body))

    story.append(para(L["section_daily"], styles.h2))
    story.append(grid(
        [L["date"], L["day_status"], L["compliant_ratio"], L["over_limit"], L["episodes"],
         L["completeness"],
         *(f"{words.parameter(k)} ({L['mean']})" for k in report.day_parameters)],
        [[words.format_date(d.date), L[f"status_{d.status}"],
          pct(d.treatment.compliant_ratio if d.treatment else None), d.over_limit, d.episodes,
          pct(d.completeness), *(num(d.means.get(k)) for k in report.day_parameters)]
         for d in report.days],
        styles))

    story.append(para(L["section_alerts"], styles.h2))
    if report.alerts:
        reasons = report.has_reasons  # the column appears once the book records reasons
        story.append(grid(
            [L["alert_id"], L["parameter"], L["kind"], L["severity"], L["state"], L["start"],
             L["end"], L["acked_by"], L["acked_at"], *([L["reason"]] if reasons else []),
             L["note"]],
            [[para(a.id, styles.cell), para(words.parameter(a.parameter), styles.cell),
              para(words.kind(a.kind), styles.cell), para(words.severity(a.severity), styles.cell),
              para(words.alert_state(a.state), styles.cell), dt(a.start),
              dt(a.end), para(a.acked_by, styles.cell), dt(a.acked_at),
              *([para(words.reason(a.reason) if a.reason else "", styles.cell)] if reasons else []),
              para(a.note, styles.cell)]
             for a in report.alerts],
            styles, widths=[24 * mm, 25 * mm, 25 * mm, 20 * mm, 18 * mm, 27 * mm, 27 * mm,
                            28 * mm, 27 * mm, *([22 * mm] if reasons else []),
                            52 * mm - (22 * mm if reasons else 0)]))
    else:
        story.append(para(L["none"], styles.body))

    story.append(para(L["section_quality"], styles.h2))
    for note in report.notes or (L["note_none"],):
        story.append(para(f"• {note}", styles.body))

    for index, chart in enumerate(charts):
        image = chart_image(chart, 62 * mm)
        # the section heading travels with the first chart (no orphan heading at a page end)
        head = [para(L["section_charts"], styles.h2)] if index == 0 else []
        story.append(KeepTogether([*head, image, Spacer(1, 6)]))

    story.append(para(L["section_provenance"], styles.h2))
    provenance = [
        (L["generated_at"], dt(report.generated_at)),
        (L["software_version"], f"quantrac {report.software_version}"),
        (L["data_rows"], str(report.data_rows)),
        (L["data_sha256"], report.data_sha256),
    ]
    story.append(grid(["", ""], [[para(k, styles.head), para(v, styles.cell)]
                                   for k, v in provenance], styles,
                        widths=[60 * mm, 130 * mm]))
    story.append(para(L["hash_note"], styles.body))
    return story


def render_pdf(report: Report, charts: Sequence[Chart] = ()) -> bytes:
    """The report as PDF bytes (A4 landscape, fonts embedded)."""
    return build_pdf(
        _story(report, charts, Styles()),
        title=f"{report.labels['title']} — {report.plant.name} — {report.period_text}",
        version=report.software_version,
        subject=report.plant.judged_by or report.words.designation(report.plant.regulation),
        footer=f"{report.plant.id} · {report.period_text} · "
               f"SHA-256 {report.data_sha256[:16]}…",
    )


def build_pdf(story: list[Flowable], *, title: str, version: str, subject: str,
              footer: str) -> bytes:
    """A4 landscape PDF bytes of `story`, DejaVu Sans embedded, `footer` and the page number
    on every page."""
    _register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=f"quantrac {version}",
        subject=subject,
        creator="quantrac",
    )

    def draw_footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(MARGIN, 6 * mm, footer)
        canvas.drawRightString(PAGE[0] - MARGIN, 6 * mm, str(document.page))
        canvas.restoreState()

    doc.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
