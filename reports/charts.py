"""Report charts as PNG bytes (matplotlib, Agg backend), readable when printed in black and white.

Every series is told apart by line style or hatching as well as colour. Charts are drawn once
per report and shared by the HTML (base64) and PDF (embedded image) renderings.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

from matplotlib.dates import num2date
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from reports.cluster import ClusterReport
from reports.model import Report, valid_series
from rules.vocabulary import Vocabulary

_DPI = 110
_STATUS_STYLE = {
    # status: (face colour, hatch) — hatch carries the meaning on a grey printer
    "ok": ("#ffffff", ""),
    "violation": ("#d62728", "xxx"),
    "incomplete": ("#bbbbbb", "..."),
    "no_data": ("#eeeeee", "///"),
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One rendered chart: a stable name, its caption and PNG bytes."""

    name: str
    caption: str
    png: bytes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _tick(words: Vocabulary, moment: datetime) -> str:
    if moment.hour or moment.minute:
        return f"{moment:%H:%M}"
    return words.format_date(moment.date())


def draw_parameter(report: Report, station: str, key: str) -> Chart:
    """A parameter's valid values over the period with its limit line(s)."""
    labels, words = report.labels, report.words
    figure = Figure(figsize=(8.0, 2.6))
    axes = figure.add_subplot()
    data = valid_series(report.readings, station, key)
    times = data["time"].dt.tz_convert(report.zone).dt.tz_localize(None)
    axes.plot(times.to_numpy(), data["value"].to_numpy(), color="#1f3b73", linestyle="-",
              linewidth=0.8, label=labels["chart_values"])
    limit = report.limit(key) if station in report.discharge_stations else None
    if limit is not None:
        for bound in (limit.max, limit.min):
            if bound is not None:
                axes.axhline(bound, color="#b00000", linestyle="--", linewidth=1.4,
                             label=f"{labels['chart_limit']} {words.format_decimal(bound)}")
    unit = limit.unit if limit is not None and limit.unit else ""
    title = f"{words.parameter(key)} — {words.station(station)}"
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(unit)
    axes.set_xlim(report.start.replace(tzinfo=None), report.end.replace(tzinfo=None))  # type: ignore[arg-type]
    axes.grid(True, linestyle=":", linewidth=0.5, color="#888888")
    axes.legend(loc="upper right", fontsize=7, frameon=True)
    # dates as the report's language writes them (the axis holds naive plant-local times);
    # ticks inside a day (short periods) show the time of day
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _tick(words, num2date(x))))
    figure.autofmt_xdate()
    return Chart(f"{station}-{key}", title, _png(figure))


def draw_calendar(report: Report) -> Chart:
    """One cell per day coloured and hatched by the day's assessment."""
    words = report.labels
    days = report.days
    first = days[0].date if days else report.start.date()
    weeks = ((first.weekday() + len(days) - 1) // 7) + 1 if days else 1
    figure = Figure(figsize=(6.0, 0.6 + 0.55 * weeks))
    axes = figure.add_subplot()
    for index, day in enumerate(days):
        slot = first.weekday() + index
        column, row = slot % 7, slot // 7
        face, hatch = _STATUS_STYLE[day.status]
        axes.add_patch(Rectangle(
            (column, -row - 1), 0.95, 0.9, facecolor=face, hatch=hatch, edgecolor="black",
            linewidth=0.6))
        axes.text(column + 0.47, -row - 0.55, str(day.date.day), ha="center", va="center",
                  fontsize=8, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    axes.set_xlim(-0.05, 7)
    axes.set_ylim(-weeks - 0.05, 0.05)
    axes.set_axis_off()
    handles = [Patch(facecolor=face, hatch=hatch, edgecolor="black", label=words[f"status_{s}"])
               for s, (face, hatch) in _STATUS_STYLE.items()]
    axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4,
                fontsize=7, frameon=False)
    axes.set_title(words["chart_calendar"], fontsize=10)
    return Chart("calendar", words["chart_calendar"], _png(figure))


def draw_flow_balance(report: Report) -> Chart:
    """Daily inflow, outflow and bypass volumes as grouped, differently hatched bars."""
    words = report.labels
    rows = report.treatment_days
    png = _grouped_bars(words["chart_flow"], [r.date[-2:] for r in rows], (
        (words["inflow"], [r.inflow_m3 for r in rows], "#ffffff", "///"),
        (words["outflow"], [r.outflow_m3 for r in rows], "#7f7f7f", ""),
        (words["bypass"], [r.bypass_m3 for r in rows], "#d62728", "xxx"),
    ))
    return Chart("flow-balance", words["chart_flow"], png)


def _grouped_bars(
    title: str, ticks: Sequence[str], series: Sequence[tuple[str, Sequence[float], str, str]],
    legend_below: bool = False,
) -> bytes:
    """Bars of m³ per day, one group per tick, each series told apart by face and hatch
    (label, values, face colour, hatch), read in black and white."""
    figure = Figure(figsize=(8.0, 2.8))
    axes = figure.add_subplot()
    positions = list(range(len(ticks)))
    width = 0.28
    for offset, (label, values, face, hatch) in zip((-width, 0.0, width), series, strict=True):
        axes.bar([p + offset for p in positions], values, width, label=label, facecolor=face,
                 hatch=hatch, edgecolor="black", linewidth=0.5)
    axes.set_xticks(positions, list(ticks), fontsize=7)
    axes.set_ylabel("m³")
    axes.set_title(title, fontsize=10)
    axes.grid(True, axis="y", linestyle=":", linewidth=0.5, color="#888888")
    if legend_below:
        axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3,
                    frameon=False)
    else:
        axes.legend(fontsize=7, loc="upper right")
    return _png(figure)


def draw_charts(report: Report) -> list[Chart]:
    """All charts of a report: parameters of the discharge stations, calendar, flow balance."""
    charts = [
        draw_parameter(report, p.station, p.parameter)
        for p in report.parameters
        if p.station in report.discharge_stations and p.valid_count
    ]
    if report.days:
        charts.append(draw_calendar(report))
    if report.treatment_days:
        charts.append(draw_flow_balance(report))
    return charts


def draw_ledger(report: ClusterReport) -> Chart:
    """The cluster's days: generated, collected and treated-to-standard volumes as grouped,
    differently hatched bars (read in black and white)."""
    labels, words = report.labels, report.words
    rows = report.days
    png = _grouped_bars(labels["chart_ledger"], [r.date[-2:] for r in rows], (
        (words.cluster_term("generated"), [r.generated_m3 for r in rows], "#ffffff", "///"),
        (words.cluster_term("collected"), [r.collected_m3 for r in rows], "#9a9a9a", ""),
        (words.cluster_term("treated_compliant"), [r.treated_compliant_m3 for r in rows],
         "#1f3b73", ""),
    ), legend_below=True)
    return Chart("ledger", labels["chart_ledger"], png)
