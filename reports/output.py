"""Writing a report's files: the one entry point the command line and the scheduler call.

File names: `<plant>_<period>_<lang>.html|.pdf` and `<plant>_<period>_<table>.csv`; a
cluster's `cluster_<cluster>_<period>_…` (a cluster may share its central plant's id), the
province roll-up's `province_<period>_…`. Every part is sanitized so no id can reach outside
`out_dir`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from reports.charts import Chart, draw_charts, draw_ledger
from reports.cluster import ClusterReport
from reports.errors import ReportsError
from reports.filenames import safe_part, safe_path
from reports.html import render_cluster_html, render_html, render_province_html
from reports.model import Report
from reports.pdf import render_pdf
from reports.province import ProvinceReport
from reports.rollup_pdf import render_cluster_pdf, render_province_pdf
from reports.tables import (
    CLUSTER_TABLES,
    PROVINCE_TABLES,
    TABLES,
    render_cluster_table,
    render_province_table,
    render_table,
)

FORMATS = ("html", "pdf", "csv")


def report_stem(report: Report) -> str:
    """`<plant>_<period>`, the common prefix of a report's files."""
    return f"{safe_part(report.plant.id)}_{safe_part(report.period)}"


def write_report(report: Report, formats: Sequence[str], out_dir: Path) -> list[Path]:
    """Write the report in `formats` (html, pdf, csv) into `out_dir`; return the paths written.

    Charts are drawn once and shared by HTML and PDF. The `csv` format writes the tables
    daily, parameters, episodes, treatment, alerts and data (the canonical, hashed data).
    """
    charts: list[Chart] = draw_charts(report) if {"html", "pdf"} & set(formats) else []
    return _write(
        report_stem(report), report.lang, formats, out_dir,
        html=lambda: render_html(report, charts), pdf=lambda: render_pdf(report, charts),
        tables={t: partial(render_table, report, t) for t in TABLES})


def write_cluster_report(report: ClusterReport, formats: Sequence[str],
                         out_dir: Path) -> list[Path]:
    """Write the cluster report in `formats` into `out_dir`; return the paths written. The
    `csv` format writes the tables ledger, members, findings and data (the hashed readings)."""
    charts = [draw_ledger(report)] if {"html", "pdf"} & set(formats) and report.days else []
    return _write(
        f"cluster_{safe_part(report.cluster)}_{safe_part(report.period)}", report.lang,
        formats, out_dir, html=lambda: render_cluster_html(report, charts),
        pdf=lambda: render_cluster_pdf(report, charts),
        tables={t: partial(render_cluster_table, report, t) for t in CLUSTER_TABLES})


def write_province_report(report: ProvinceReport, formats: Sequence[str],
                          out_dir: Path) -> list[Path]:
    """Write the province roll-up in `formats` into `out_dir`; return the paths written. The
    `csv` format writes the tables clusters and data (the hashed ledger rows)."""
    return _write(
        f"province_{safe_part(report.period)}", report.lang, formats, out_dir,
        html=lambda: render_province_html(report), pdf=lambda: render_province_pdf(report),
        tables={t: partial(render_province_table, report, t) for t in PROVINCE_TABLES})


def _write(
    stem: str, lang: str, formats: Sequence[str], out_dir: Path, *,
    html: Callable[[], str], pdf: Callable[[], bytes], tables: Mapping[str, Callable[[], bytes]],
) -> list[Path]:
    """`<stem>_<lang>.html|.pdf` and `<stem>_<table>.csv` for each format asked, once each."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportsError(f"unknown report format(s) {unknown or formats} (use {FORMATS})")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        if fmt == "html":
            path = safe_path(out_dir, f"{stem}_{safe_part(lang)}.html")
            path.write_text(html(), encoding="utf-8")
            written.append(path)
        elif fmt == "pdf":
            path = safe_path(out_dir, f"{stem}_{safe_part(lang)}.pdf")
            path.write_bytes(pdf())
            written.append(path)
        else:
            for table, render in tables.items():
                path = safe_path(out_dir, f"{stem}_{table}.csv")
                path.write_bytes(render())
                written.append(path)
    return written
