"""JSON API (`/api/v1/…`): the same data as the pages, for a session cookie or an
`Authorization: Bearer <token>` from `quantrac users token`; the same scope rules.

PHASE 2: `/api/v1/plants/<id>/latest`, `/api/v1/plants/<id>/series`, `/api/v1/public/<plant>`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.context import Pages
from console.errors import BadRequest
from rules.permit import Plant

_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}


def plant_json(plant: Plant) -> dict[str, object]:
    return {
        "id": plant.id, "name": plant.name, "cluster": plant.cluster,
        "timezone": plant.timezone, "regulation": plant.regulation, "column": plant.column,
        "design_flow_m3_day": plant.design_flow_m3_day,
        "stations": {station: list(keys) for station, keys in plant.stations.items()},
        "status": "unknown",  # PHASE 2: from the scheduled checks
    }


class Api(Pages):
    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/plants", self.plants, methods=["GET"]),
            Route("/api/v1/alerts", self.alerts, methods=["GET"]),
        ]

    async def plants(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        return JSONResponse({"plants": [plant_json(p) for p in scope.plants()]})

    async def alerts(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        unknown = set(request.query_params) - {"open", "plant"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise BadRequest(f"unknown parameter(s): {names}", "unknown_parameters", names=names)
        flag = request.query_params.get("open", "").lower()
        if flag not in _FLAGS:
            raise BadRequest(f"open: expected 1 or 0, got {flag!r}", "bad_open_flag", flag=flag)
        plant = request.query_params.get("plant")
        plants = [scope.plant(plant).id] if plant else scope.plant_ids()
        alerts = await run_in_threadpool(self.ctx.alerts.list_alerts, _FLAGS[flag], plants)
        return JSONResponse({"alerts": [alert.to_json() for alert in alerts]})
