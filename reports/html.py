"""HTML rendering: one self-contained, printable file (inline CSS, charts as base64 PNG).

Jinja2 autoescaping is on for every template, so plant names, notes and alert texts from the
config or the data can never inject markup.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.charts import Chart
from reports.labels import format_limit, format_number, format_percent
from reports.model import ParameterSummary, Report

_TEMPLATE = "report.html.j2"


def _environment(report: Report) -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    lang = report.lang
    zone = report.zone

    def num(value: float | None, digits: int = 2) -> str:
        return format_number(value, lang, digits)

    def pct(value: float | None) -> str:
        return format_percent(value, lang)

    def dt(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    def limit_text(p: ParameterSummary) -> str:
        return format_limit(p.limit_min, p.limit_max, p.unit, lang)

    env.filters.update(num=num, pct=pct, dt=dt, b64=b64)
    env.globals.update(limit_text=limit_text)
    return env


def render_html(report: Report, charts: Sequence[Chart] = ()) -> str:
    """The report as one HTML document (UTF-8 text)."""
    env = _environment(report)
    words = report.labels
    template = env.get_template(_TEMPLATE)
    return template.render(report=report, L=words.text, W=words, charts=list(charts))
