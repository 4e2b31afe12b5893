"""HTML rendering: one self-contained, printable file (inline CSS, charts as base64 PNG).

Jinja2 autoescaping is on for every template, so plant names, notes and alert texts from the
config or the data can never inject markup. Words and number/date formats come from the
report's vocabulary (`W`, rules/vocabulary.py); the report's own sentences from `L`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.charts import Chart
from reports.cluster import ClusterReport
from reports.model import ParameterSummary, Report
from reports.province import ProvinceReport
from rules.vocabulary import Vocabulary

_TEMPLATE = "report.html.j2"


def _environment(report: Report) -> Environment:
    env = _base_environment(report.words, report.zone)

    def limit_text(p: ParameterSummary) -> str:
        return report.words.format_limit(p.limit_min, p.limit_max, p.unit)

    env.globals.update(limit_text=limit_text)
    return env


def _base_environment(words: Vocabulary, zone: ZoneInfo) -> Environment:
    """Autoescaping templates with the vocabulary's filters: numbers, percentages, dates."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def num(value: float | None, digits: int = 2) -> str:
        return words.format_number(value, digits)

    def dt(value: datetime | None) -> str:
        return words.format_datetime(value, zone)

    def day(value: date | str) -> str:
        return words.format_date(date.fromisoformat(value) if isinstance(value, str) else value)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    env.filters.update(num=num, pct=words.format_percent, dec=words.format_decimal,
                       coef=words.format_coefficient, dt=dt, day=day, b64=b64)
    return env


def render_html(report: Report, charts: Sequence[Chart] = ()) -> str:
    """The report as one HTML document (UTF-8 text)."""
    env = _environment(report)
    template = env.get_template(_TEMPLATE)
    return template.render(report=report, L=report.labels.text, W=report.words,
                           charts=list(charts))


def render_cluster_html(report: ClusterReport, charts: Sequence[Chart] = ()) -> str:
    """The cluster report as one HTML document (UTF-8 text)."""
    env = _base_environment(report.words, report.zone)
    return env.get_template("cluster.html.j2").render(
        report=report, L=report.labels.text, W=report.words, charts=list(charts))


def render_province_html(report: ProvinceReport) -> str:
    """The province roll-up as one HTML document (UTF-8 text)."""
    env = _base_environment(report.words, report.zone)
    return env.get_template("province.html.j2").render(
        report=report, L=report.labels.text, W=report.words)
