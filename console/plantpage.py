"""A plant (`/plants/<id>`): its identity, permit terms and the effective limits in force today.

PHASE 2: live values per station next to the limits (updating without reload), charts of
24 h / 7 d / 30 d with limit lines and excluded readings marked, findings, treatment,
completeness, report and Circular 10 downloads.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.context import Pages
from rules.limits import plant_limits


class PlantPage(Pages):
    def routes(self) -> list[Route]:
        return [Route("/plants/{plant_id}", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        plant = scope.plant(request.path_params["plant_id"])
        today = self.ctx.clock().astimezone(plant.zone).date()
        limits = plant_limits(plant, today)
        alerts = await run_in_threadpool(self.ctx.alerts.list_alerts, True, [plant.id])
        monitored = [key for keys in plant.stations.values() for key in keys]
        shown = [limits.limits[key] for key in dict.fromkeys(monitored) if key in limits.limits]
        return self.ctx.view.page(request, "plant.html.j2", {
            "plant": plant, "limits": limits, "shown_limits": shown, "open_alerts": alerts,
            "may_ack": scope.may_ack(plant),
        })
