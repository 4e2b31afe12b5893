"""A cluster (`/clusters/<id>`): its central plant, member factories (metered, with their status,
and declared) and the collection and treatment ledger the scheduled checks keep (the 100 %
target: generated → collected → treated to standard), with its collection shortfalls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.context import Pages
from console.errors import check_parameters
from console.scope import Scope
from console.sources import ClusterResults
from console.status import PlantSummary, month_of, months_back, summarise
from rules.cluster import ClusterLayout
from rules.collection import finding_plant
from rules.findings import Finding
from rules.results import ClusterRow

LEDGER_DAYS = 30


@dataclass(frozen=True)
class Ledger:
    """A cluster's stored rows: this month so far (or whole), last month, the days newest
    first."""

    month: ClusterRow | None
    last_month: ClusterRow | None
    days: list[ClusterRow]
    whole: set[str]


def this_month(source: ClusterResults | None, layout: ClusterLayout, now: datetime
               ) -> ClusterRow | None:
    """The cluster's month row so far (the overview's group header), None without one."""
    if source is None or not layout.declared:
        return None
    today = now.astimezone(layout.zone).date()
    month = month_of(today)
    rows = source.cluster_rows(layout.id, today.replace(day=1).isoformat(), today.isoformat())
    return next((r for r in rows if r.date == month), None)


class ClusterPage(Pages):
    def routes(self) -> list[Route]:
        return [Route("/clusters/{cluster_id}", self.page, methods=["GET"])]

    def ledger(self, layout: ClusterLayout, now: datetime) -> Ledger:
        """The cluster's ledger rows of the last `LEDGER_DAYS` days and their months."""
        source = self.ctx.sources.clusters
        if source is None or not layout.declared:
            return Ledger(None, None, [], set())
        today = now.astimezone(layout.zone).date()
        first = today - timedelta(days=LEDGER_DAYS)
        rows = source.cluster_rows(layout.id, first.isoformat(), today.isoformat())
        month = month_of(today)
        months = {r.date: r for r in rows if len(r.date) == 7}
        return Ledger(months.get(month), months.get(months_back(month, 1)),
                      sorted((r for r in rows if len(r.date) == 10), key=lambda r: r.date,
                             reverse=True), source.whole_months(layout.id))

    def _gather(self, scope: Scope, layout: ClusterLayout, now: datetime
                ) -> dict[str, object]:
        ctx = self.ctx
        plants = [p for p in layout.plants if scope.sees(p)]
        summaries: dict[str, PlantSummary] = {
            s.plant.id: s for s in summarise(plants, ctx.results, ctx.alerts, ctx.checks, now)}
        since = now - timedelta(days=LEDGER_DAYS)
        findings: list[Finding] = [
            f for f in ctx.results.stored_findings(finding_plant(layout), since, now)
            if f.kind == "collection_shortfall"][::-1]
        return {"summaries": summaries, "ledger": self.ledger(layout, now),
                "findings": findings}

    async def page(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        layout = scope.cluster(request.path_params["cluster_id"])
        check_parameters(request.query_params, {"lang"})
        now = self.ctx.clock()
        data = await run_in_threadpool(self._gather, scope, layout, now)
        return self.ctx.view.page(request, "cluster.html.j2", {
            "layout": layout, "now": now, "days": LEDGER_DAYS, **data})
