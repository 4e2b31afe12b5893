"""A plant (`/plants/<id>`): permit terms, live values per station next to the limits in force
(a fragment the page polls every 2 s), charts of 24 h / 7 d / 30 d with limit lines and
excluded readings marked, findings, treatment ledger, completeness, and downloads of the
month's report (PDF/HTML/CSV) and Circular 10 files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.context import Pages
from console.errors import BadRequest, check_parameters
from console.live import LiveStation, live_values, newest_time
from console.sources import Document
from console.status import month_of, months_back, summarise
from rules.findings import Finding
from rules.limits import plant_limits
from rules.permit import Plant
from rules.results import TreatmentRow
from rules.summary import Tally
from rules.windows import month_span

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
LEDGER_DAYS = 30
FINDINGS_SHOWN = 50
REPORT_FORMATS = ("pdf", "html", "csv")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Chart:
    station: str
    parameter: str
    src: str  # the series API URL the chart script fetches


@dataclass(frozen=True)
class CompletenessLine:
    """One series' completeness over the ledger days: in total and per day (None: no hour of
    that day was checked)."""

    station: str
    parameter: str
    fraction: float | None
    excluded: int
    days: list[tuple[date, float | None]]


def completeness_lines(plant: Plant, tallies: list[Tally], days: list[date]
                       ) -> list[CompletenessLine]:
    by_series: dict[tuple[str, str], dict[str, Tally]] = {}
    for tally in tallies:
        by_series.setdefault((tally.station, tally.parameter), {})[tally.period] = tally
    lines = []
    for station, keys in plant.stations.items():
        for key in keys:
            mine = by_series.get((station, key), {})
            expected = sum(t.expected for t in mine.values())
            lines.append(CompletenessLine(
                station, key,
                min(1.0, sum(t.valid for t in mine.values()) / expected) if expected else None,
                sum(t.excluded for t in mine.values()),
                [(day, mine[day.isoformat()].fraction if day.isoformat() in mine else None)
                 for day in days]))
    return lines


def month_range(plant: Plant, month: str, now: datetime) -> tuple[datetime, datetime]:
    """A plant-local month as [start, end), ending now for the month still running; 400 for a
    malformed or future month."""
    if not _MONTH.match(month):
        raise BadRequest(f"month: expected YYYY-MM, got {month!r}", "bad_month", month=month)
    first, after = month_span(month, plant.zone)
    if first > now:
        raise BadRequest(f"month: {month} has not begun", "future_month", month=month)
    return first, min(after, now)


def download(document: Document) -> Response:
    # RFC 6266: an ASCII fallback and the UTF-8 name
    name = document.filename
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return Response(document.content, media_type=document.media_type, headers={
        "content-disposition":
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})


class PlantPage(Pages):
    def routes(self) -> list[Route]:
        return [
            Route("/plants/{plant_id}", self.page, methods=["GET"]),
            Route("/plants/{plant_id}/live", self.live, methods=["GET"]),
            Route("/plants/{plant_id}/report", self.report, methods=["GET"]),
            Route("/plants/{plant_id}/circular10", self.circular10, methods=["GET"]),
        ]

    def _live(self, plant: Plant, now: datetime) -> list[LiveStation]:
        limits = plant_limits(plant, now.astimezone(plant.zone).date())
        return live_values(plant, self.ctx.results.latest_values([plant.id]), limits,
                           self.ctx.checks)

    async def page(self, request: Request) -> Response:
        ctx = self.ctx
        scope = ctx.scope(request)
        plant = scope.plant(request.path_params["plant_id"])
        check_parameters(request.query_params, {"range", "lang"})
        span = request.query_params.get("range", "24h")
        if span not in RANGES:
            raise BadRequest(f"range: choose one of {', '.join(RANGES)}", "bad_range_choice",
                             choices=", ".join(RANGES))
        now = ctx.clock()
        data = await run_in_threadpool(self._gather, plant, now)
        limits = plant_limits(plant, now.astimezone(plant.zone).date())
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - RANGES[span]
        charts = [Chart(station, key, f"/api/v1/plants/{plant.id}/series?" + urlencode({
            "station": station, "parameter": key, "from": start.isoformat(),
            "to": end.isoformat()})) for station, keys in plant.stations.items() for key in keys]
        this_month = month_of(now.astimezone(plant.zone))
        monitored = dict.fromkeys(key for keys in plant.stations.values() for key in keys)
        return ctx.view.page(request, "plant.html.j2", {
            "plant": plant, "limits": limits,
            "shown_limits": [limits.limits[key] for key in monitored if key in limits.limits],
            "now": now, "span": span, "ranges": RANGES,
            "charts": charts, "may_ack": scope.may_ack(plant),
            "cluster_name": ctx.directory.layout(plant.cluster).name,
            "sees_cluster": scope.sees_cluster(ctx.directory.layout(plant.cluster)),
            "months": [months_back(this_month, i) for i in range(3)],
            "formats": REPORT_FORMATS, "compliance": ctx.checks.compliance_stations,
            **data,
        })

    def _gather(self, plant: Plant, now: datetime) -> dict[str, object]:
        ctx = self.ctx
        local_today = now.astimezone(plant.zone).date()
        days = [local_today - timedelta(days=i) for i in range(LEDGER_DAYS)]
        since = datetime.combine(days[-1], datetime.min.time(), plant.zone)
        (summary,) = summarise([plant], ctx.results, ctx.alerts, ctx.checks, now)
        findings: list[Finding] = ctx.results.stored_findings(plant.id, since, now)[
            -FINDINGS_SHOWN - 1:][::-1]  # newest first
        treatment: list[TreatmentRow] = []
        if plant.kind == "plant":
            treatment = list(reversed(ctx.results.day_treatment(plant.id, since, now)))
        live = self._live(plant, now)
        return {
            "summary": summary, "live": live, "live_at": newest_time(live),
            "findings": findings[:FINDINGS_SHOWN], "more_findings": len(findings) > FINDINGS_SHOWN,
            "treatment": treatment, "month_treatment": summary.treatment,
            "completeness": completeness_lines(
                plant, ctx.results.day_tallies(plant.id, days[-1], local_today),
                list(reversed(days))),
            "open_alerts": ctx.alerts.list_alerts(True, [plant.id]),
        }

    async def live(self, request: Request) -> Response:
        """The live values fragment (the page swaps it in every 2 s)."""
        scope = self.ctx.scope(request)
        plant = scope.plant(request.path_params["plant_id"])
        now = self.ctx.clock()
        live = await run_in_threadpool(self._live, plant, now)
        return self.ctx.view.page(request, "_live.html.j2", {
            "plant": plant, "live": live, "live_at": newest_time(live), "now": now})

    async def report(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        plant = scope.plant(request.path_params["plant_id"])
        params = request.query_params
        fmt = params.get("format", "pdf")
        if fmt not in REPORT_FORMATS:
            raise BadRequest(f"format: choose one of {', '.join(REPORT_FORMATS)}",
                             "bad_format", choices=", ".join(REPORT_FORMATS))
        start, end = month_range(plant, params.get("month", ""), self.ctx.clock())
        lang = self.ctx.view.words(request).lang
        documents = self.ctx.sources.documents
        document = await run_in_threadpool(documents.report, plant, start, end, fmt, lang)
        return download(document)

    async def circular10(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        plant = scope.plant(request.path_params["plant_id"])
        start, end = month_range(plant, request.query_params.get("month", ""), self.ctx.clock())
        document = await run_in_threadpool(self.ctx.sources.documents.circular10, plant, start, end)
        return download(document)
