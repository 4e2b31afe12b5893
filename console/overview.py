"""The overview (`/`): every plant in the user's scope, grouped by cluster.

PHASE 2: status from the scheduled checks (compliant / exceedance / no_data / sensor_fault /
bypass), last reading age, month-to-date compliance, completeness, treatment ratio,
factories, sorting, filtering and the chronic non-compliance ranking. Until then every plant's
`data-status` is `unknown`; the open alerts come from the alert book.
"""

from __future__ import annotations

from collections import Counter

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.settings import severity_rank
from console.context import Pages


class OverviewPage(Pages):
    def routes(self) -> list[Route]:
        return [Route("/", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        plants = scope.plants()
        ids = [plant.id for plant in plants]
        alerts = await run_in_threadpool(self.ctx.alerts.list_alerts, True, ids) if ids else []
        counts = Counter(alert.plant for alert in alerts)
        worst: dict[str, str] = {}
        for alert in alerts:
            if alert.plant not in worst or severity_rank(alert.severity) > severity_rank(
                worst[alert.plant]
            ):
                worst[alert.plant] = alert.severity
        return self.ctx.view.page(request, "overview.html.j2", {
            "clusters": self.ctx.directory.clusters(plants),
            "open_counts": counts, "worst": worst,
        })
