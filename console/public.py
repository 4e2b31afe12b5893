"""Public pages, no sign-in (Decree 08 Art. 102: each automatic result published next to its
permitted limit and kept up 30 days): `/public/` the plants; `/public/<plant>` the last 30
days of every parameter of its discharge next to its limit — a summary, the hourly means of
the last week (any other day of the 30 on its own page, `?day=`), over-limit and excluded
values marked; `/public/<plant>/board` a large-type gate display that refreshes its values
itself (`/public/<plant>/board/values`, polled every 10 s); `/api/v1/public/<plant>?days=30`
every hour of the period as JSON. They read the check book only (hour results, day tallies,
last values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.context import Context, Pages
from console.errors import BadRequest, check_parameters
from console.live import LiveStation, live_values, newest_time
from console.recent import Recent
from console.series import finite
from console.words import Words
from rules.limits import EffectiveLimits, Limit, plant_limits
from rules.permit import Plant
from rules.summary import HourResult

DAYS = 30
SHOWN_DAYS = 7  # days whose hourly tables a public page carries; the others are one link each
BOARD_REFRESH_S = 10
KEEP_S = 20.0  # how long a computed public page is served again


@dataclass(frozen=True)
class Column:
    """A published series: a parameter of a compliance station and its limit today."""

    station: str
    parameter: str
    limit: Limit | None


@dataclass(frozen=True)
class Line:
    """One published parameter's summary over the 30 days (the rows with `data-limit`)."""

    column: Column
    last: HourResult | None  # the newest hour with a mean
    highest: HourResult | None
    judged: int
    over: int


@dataclass(frozen=True)
class Day:
    day: date
    hours: list[tuple[datetime, list[HourResult | None]]]  # newest hour first
    over: int


@dataclass(frozen=True)
class Published:
    """A public page: the summary of the period, the hourly tables of the days shown (the
    last week, or the one day asked for) and the other days of the period (links)."""

    plant: Plant
    limits: EffectiveLimits
    columns: list[Column]
    lines: list[Line]
    days: list[Day]  # newest day first
    other_days: list[date]  # newest first
    start: datetime
    end: datetime


def columns_of(plant: Plant, limits: EffectiveLimits, compliance: tuple[str, ...]
               ) -> list[Column]:
    """The published series: every parameter of the plant's compliance stations."""
    return [Column(station, key, limits.get(key))
            for station, keys in plant.stations.items() if station in compliance
            for key in keys]


def hour_days(plant: Plant, hours: list[HourResult], columns: list[Column]) -> list[Day]:
    """Whole hours by plant-local day, newest first, one cell per column."""
    position = {(c.station, c.parameter): i for i, c in enumerate(columns)}
    rows: dict[datetime, list[HourResult | None]] = {}
    for hour in hours:
        i = position.get((hour.station, hour.parameter))
        if hour.whole and i is not None:
            row = rows.get(hour.start)
            if row is None:
                row = rows[hour.start] = [None] * len(columns)
            row[i] = hour
    days: dict[date, list[tuple[datetime, list[HourResult | None]]]] = {}
    for moment in sorted(rows, reverse=True):
        days.setdefault(moment.astimezone(plant.zone).date(), []).append((moment, rows[moment]))
    return [Day(day, entries, sum(1 for _, row in entries for h in row
                                  if h is not None and h.over))
            for day, entries in days.items()]


def day_rows(day: Day, words: Words, zone: ZoneInfo) -> Markup:
    """The hour rows of one day's table (the bulk of a public page: 24 rows x every published
    parameter, 30 days) made here rather than by a template macro per cell, ten times faster.
    Marks: over the limit (▲, class over), readings excluded (†, with their count), a mean
    with too few valid readings to judge (class thin)."""
    over = escape(words("over_limit"))
    out = []
    for moment, row in day.hours:
        local = moment.astimezone(zone)
        label = f"{local:%H:%M}–{local + timedelta(hours=1):%H:%M}"
        cells = []
        for hour in row:
            if hour is None:
                cells.append('<td class="num none">—</td>')
                continue
            classes = "num"
            if hour.over:
                classes += " over"
            elif hour.mean is not None and not hour.judged and hour.limit_max is not None:
                classes += " thin"
            text = words.format_decimal(hour.mean, 2) if hour.mean is not None else "—"
            mark = f'<span class="mark" aria-label="{over}">▲</span> ' if hour.over else ""
            title = excluded = ""
            if hour.excluded:
                title = f' title="{escape(words("excluded_n", n=hour.excluded))}"'
                excluded = '<sup class="excl">†</sup>'
            cells.append(f'<td class="{classes}"{title}>{mark}{text}{excluded}</td>')
        out.append(f'<tr><th scope="row" class="nowrap">{label}</th>{"".join(cells)}</tr>')
    return Markup("\n".join(out))


def published_json(plant: Plant, limits: EffectiveLimits, columns: list[Column],
                   hours: list[HourResult], start: datetime, end: datetime) -> dict[str, Any]:
    wanted = {(c.station, c.parameter) for c in columns}
    return {
        "plant": {"id": plant.id, "name": plant.name, "cluster": plant.cluster,
                  "timezone": plant.timezone, "regulation": limits.regulation,
                  "column": limits.column},
        "from": start.isoformat(), "to": end.isoformat(),
        "parameters": [{"station": c.station, "parameter": c.parameter,
                        "limit": c.limit.to_json() if c.limit else None} for c in columns],
        "hours": [{"time": h.start.isoformat(), "station": h.station, "parameter": h.parameter,
                   "mean": h.mean, "min": h.low, "max": h.high, "valid": h.valid,
                   "excluded": h.excluded, "judged": h.judged, "over": h.over,
                   "ratio": finite(h.ratio)}
                  for h in hours if h.whole and (h.station, h.parameter) in wanted],
    }


class PublicPages(Pages):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # A public page's results change once a minute at most (the frequent check): many
        # visitors of one plant within seconds cost one computation.
        self.recent: Recent[tuple[str, str, date | None],
                            tuple[Published, dict[date, Markup]]] = Recent(KEEP_S, 64)

    def routes(self) -> list[Route]:
        # `/public` (no slash) is redirected here by the router itself.
        return [
            Route("/public/", self.index, methods=["GET"]),
            Route("/public/{plant_id}", self.plant, methods=["GET"]),
            Route("/public/{plant_id}/board", self.board, methods=["GET"]),
            Route("/public/{plant_id}/board/values", self.board_values, methods=["GET"]),
            Route("/api/v1/public/{plant_id}", self.api, methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        directory = self.ctx.directory
        return self.ctx.view.page(request, "public.html.j2", {
            "clusters": directory.clusters(list(directory.plants)),
        })

    def _published(self, plant: Plant, day: date | None) -> Published:
        """The page's data: the 30-day summary from aggregates (newest and highest hour per
        series, day tallies), the hour rows of the last `SHOWN_DAYS` days (or of `day`)."""
        results, compliance = self.ctx.results, self.ctx.checks.compliance_stations
        end = self.ctx.clock()
        start = end - timedelta(days=DAYS)
        limits = plant_limits(plant, end.astimezone(plant.zone).date())
        columns = columns_of(plant, limits, compliance)
        if day is None:
            shown = (end - timedelta(days=SHOWN_DAYS - 1)).astimezone(plant.zone).replace(
                hour=0, minute=0, second=0, microsecond=0)
            hours = results.hour_results(plant.id, shown, end, stations=compliance, whole=True)
        else:
            first = datetime.combine(day, datetime.min.time(), plant.zone)
            hours = results.hour_results(plant.id, max(first, start),
                                         min(first + timedelta(days=1), end),
                                         stations=compliance, whole=True)
        days = hour_days(plant, hours, columns)
        newest = {(h.station, h.parameter): h for h in results.notable_hours(
            plant.id, start, end, compliance, by="newest")}
        highest = {(h.station, h.parameter): h for h in results.notable_hours(
            plant.id, start, end, compliance, by="highest")}
        first_day, last_day = start.astimezone(plant.zone).date(), end.astimezone(
            plant.zone).date()
        counts: dict[tuple[str, str], list[int]] = {}
        dated: set[date] = set()
        for tally in results.day_tallies(plant.id, first_day, last_day):
            if tally.station in compliance:
                total = counts.setdefault((tally.station, tally.parameter), [0, 0])
                total[0] += tally.judged
                total[1] += tally.over
                if tally.valid or tally.excluded:
                    dated.add(date.fromisoformat(tally.period))
        lines = [Line(c, newest.get((c.station, c.parameter)),
                      highest.get((c.station, c.parameter)),
                      *counts.get((c.station, c.parameter), [0, 0])) for c in columns]
        shown_days = {d.day for d in days}
        return Published(plant, limits, columns, lines, days,
                         sorted(dated - shown_days, reverse=True), start, end)

    async def plant(self, request: Request) -> Response:
        plant = self.ctx.directory.plant(request.path_params["plant_id"])
        check_parameters(request.query_params, {"lang", "day"})
        words = self.ctx.view.words(request)
        day = _day_asked(request.query_params.get("day"))

        def make() -> tuple[Published, dict[date, Markup]]:
            pub = self._published(plant, day)
            return pub, {d.day: day_rows(d, words, plant.zone) for d in pub.days}

        pub, rows = await run_in_threadpool(self.recent.get, (plant.id, words.lang, day), make)
        return self.ctx.view.page(request, "public_plant.html.j2", {
            "pub": pub, "days": DAYS, "hour": timedelta(hours=1), "rows": rows, "day": day})

    async def api(self, request: Request) -> Response:
        plant = self.ctx.directory.plant(request.path_params["plant_id"])
        check_parameters(request.query_params, {"days"})
        text = request.query_params.get("days", str(DAYS))
        if not text.isdigit() or not 1 <= int(text) <= DAYS:
            raise BadRequest(f"days: a whole number from 1 to {DAYS}, got {text!r}", "bad_days",
                             days=text)
        end = self.ctx.clock()
        start = end - timedelta(days=int(text))
        compliance = self.ctx.checks.compliance_stations
        hours = await run_in_threadpool(self.ctx.results.hour_results, plant.id, start, end,
                                        None, compliance, True)
        limits = plant_limits(plant, end.astimezone(plant.zone).date())
        return JSONResponse(published_json(plant, limits, columns_of(plant, limits, compliance),
                                           hours, start, end))

    def _board(self, plant: Plant) -> tuple[list[LiveStation], dict[tuple[str, str], Any]]:
        now = self.ctx.clock()
        limits = plant_limits(plant, now.astimezone(plant.zone).date())
        live = live_values(plant, self.ctx.results.latest_values([plant.id]), limits,
                           self.ctx.checks, compliance_only=True)
        hours = self.ctx.results.hour_results(plant.id, now - timedelta(hours=3), now)
        last = {(h.station, h.parameter): h for h in hours if h.whole and h.mean is not None}
        return live, last

    async def board(self, request: Request) -> Response:
        return await self._board_page(request, "board.html.j2")

    async def board_values(self, request: Request) -> Response:
        return await self._board_page(request, "_board_values.html.j2")

    async def _board_page(self, request: Request, template: str) -> Response:
        """The board (its page, or the values it polls)."""
        plant = self.ctx.directory.plant(request.path_params["plant_id"])
        check_parameters(request.query_params, {"lang"})
        live, last = await run_in_threadpool(self._board, plant)
        return self.ctx.view.page(request, template, {
            "plant": plant, "live": live, "last_hour": last, "live_at": newest_time(live),
            "now": self.ctx.clock(), "refresh": BOARD_REFRESH_S, "one_hour": timedelta(hours=1)})


def _day_asked(text: str | None) -> date | None:
    """`?day=YYYY-MM-DD`: one day's hourly table; 400 for anything else."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"day: expected YYYY-MM-DD, got {text!r}", "bad_day",
                         day=text) from None
