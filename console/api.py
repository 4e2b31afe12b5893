"""JSON API (`/api/v1/…`): the same data as the pages, for a session cookie or an
`Authorization: Bearer <token>` from `quantrac users token`; the same scope rules. The public
`/api/v1/public/<plant>` lives with the public pages (`console.public`).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.context import Context, Pages
from console.errors import BadRequest, check_parameters
from console.live import live_values
from console.recent import Recent
from console.series import hour_points, reading_points, series_query
from console.status import summarise
from rules.limits import plant_limits
from rules.permit import Plant

_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}


def plant_json(plant: Plant, status: str) -> dict[str, object]:
    return {
        "id": plant.id, "name": plant.name, "cluster": plant.cluster, "kind": plant.kind,
        "timezone": plant.timezone, "regulation": plant.regulation, "column": plant.column,
        "design_flow_m3_day": plant.design_flow_m3_day,
        "stations": {station: list(keys) for station, keys in plant.stations.items()},
        "status": status,
    }


class Api(Pages):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # The charts of one plant page ask for the same plant and range once per parameter:
        # one store query, not eight.
        self.frames: Recent[tuple[str, datetime, datetime], pd.DataFrame] = Recent(10.0, 16)

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/plants", self.plants, methods=["GET"]),
            Route("/api/v1/plants/{plant_id}/latest", self.latest, methods=["GET"]),
            Route("/api/v1/plants/{plant_id}/series", self.series, methods=["GET"]),
            Route("/api/v1/alerts", self.alerts, methods=["GET"]),
        ]

    async def plants(self, request: Request) -> Response:
        ctx = self.ctx
        plants = ctx.scope(request).plants()
        summaries = await run_in_threadpool(summarise, plants, ctx.results, ctx.alerts,
                                            ctx.checks, ctx.clock())
        return JSONResponse({"plants": [plant_json(s.plant, s.status) for s in summaries]})

    async def latest(self, request: Request) -> Response:
        """The plant's newest reading per series with device status and the limit in force."""
        ctx = self.ctx
        plant = ctx.scope(request).plant(request.path_params["plant_id"])
        check_parameters(request.query_params, {"lang"})
        now = ctx.clock()
        latest = await run_in_threadpool(ctx.results.latest_values, [plant.id])
        stations = live_values(plant, latest, plant_limits(plant, now.astimezone(
            plant.zone).date()), ctx.checks)
        return JSONResponse({"plant": plant.id, "time": now.isoformat(),
                             "values": [v.to_json() for s in stations for v in s.values]})

    async def series(self, request: Request) -> Response:
        """One station/parameter over [from, to) (default the last 24 h): raw readings up to
        two days (from the store), hourly results beyond (from the check book)."""
        ctx = self.ctx
        plant = ctx.scope(request).plant(request.path_params["plant_id"])
        now = ctx.clock()
        query = series_query(plant, request.query_params, now, ctx.checks.compliance_stations)
        if query.resolution == "reading":
            frame = await run_in_threadpool(
                self.frames.get, (plant.id, query.start, query.end),
                lambda: ctx.sources.readings.read_frame(plant.id, query.start, query.end))
            points = reading_points(frame, query.station, query.parameter)
        else:
            hours = await run_in_threadpool(ctx.results.hour_results, plant.id, query.start,
                                            query.end, query.parameter)
            points = hour_points(hours, query.station)
        judged = query.station in ctx.checks.compliance_stations
        limit = plant_limits(plant, query.end.astimezone(plant.zone).date()).get(
            query.parameter) if judged else None
        return JSONResponse({
            "plant": plant.id, "station": query.station, "parameter": query.parameter,
            "from": query.start.isoformat(), "to": query.end.isoformat(),
            "resolution": query.resolution, "limit": limit.to_json() if limit else None,
            "points": points,
        })

    async def alerts(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        check_parameters(request.query_params, {"open", "plant"})
        flag = request.query_params.get("open", "").lower()
        if flag not in _FLAGS:
            raise BadRequest(f"open: expected 1 or 0, got {flag!r}", "bad_open_flag", flag=flag)
        plant = request.query_params.get("plant")
        plants = [scope.plant(plant).id] if plant else scope.plant_ids()
        alerts = await run_in_threadpool(self.ctx.alerts.list_alerts, _FLAGS[flag], plants)
        return JSONResponse({"alerts": [alert.to_json() for alert in alerts]})

