"""Writing a report's files: the one entry point the command line and the scheduler call.

File names: `<plant>_<period>_<lang>.html|.pdf` and `<plant>_<period>_<table>.csv`; every part
is sanitized so no id can reach outside `out_dir`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reports.charts import Chart, draw_charts
from reports.errors import ReportsError
from reports.filenames import safe_part, safe_path
from reports.html import render_html
from reports.model import Report
from reports.pdf import render_pdf
from reports.tables import TABLES, render_table

FORMATS = ("html", "pdf", "csv")


def report_stem(report: Report) -> str:
    """`<plant>_<period>`, the common prefix of a report's files."""
    return f"{safe_part(report.plant.id)}_{safe_part(report.period)}"


def write_report(report: Report, formats: Sequence[str], out_dir: Path) -> list[Path]:
    """Write the report in `formats` (html, pdf, csv) into `out_dir`; return the paths written.

    Charts are drawn once and shared by HTML and PDF. The `csv` format writes the tables
    daily, parameters, episodes, treatment, alerts and data (the canonical, hashed data).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportsError(f"unknown report format(s) {unknown or formats} (use {FORMATS})")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report)
    lang = safe_part(report.lang)
    charts: list[Chart] = draw_charts(report) if {"html", "pdf"} & set(formats) else []
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        if fmt == "html":
            path = safe_path(out_dir, f"{stem}_{lang}.html")
            path.write_text(render_html(report, charts), encoding="utf-8")
            written.append(path)
        elif fmt == "pdf":
            path = safe_path(out_dir, f"{stem}_{lang}.pdf")
            path.write_bytes(render_pdf(report, charts))
            written.append(path)
        else:
            for table in TABLES:
                path = safe_path(out_dir, f"{stem}_{table}.csv")
                path.write_bytes(render_table(report, table))
                written.append(path)
    return written
