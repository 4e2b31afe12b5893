"""The overview (`/`): every plant and factory in the user's scope, grouped by cluster, with its
status, newest reading, month-to-date compliance, completeness, treatment, open alerts and
chronic non-compliance standing (`console.status`); sorted and filtered by query parameters
(links and a GET form: no script needed), plants ranked worst first by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.clusterpage import this_month
from console.context import Pages
from console.errors import BadRequest, check_parameters
from console.scope import Cluster
from console.status import STATUSES, PlantSummary, summarise
from rules.chronic import rank_key
from rules.findings import SEVERITIES
from rules.results import ClusterRow

# Worst first: how the status column sorts.
_STATUS_ORDER = {s: i for i, s in enumerate(
    ("bypass", "exceedance", "sensor_fault", "no_data", "unknown", "compliant"))}
_NONE_LAST = float("inf")


def _missing_last(value: float | None, descending: bool) -> float:
    """Sort key putting plants without a figure last in both directions."""
    if value is None:
        return _NONE_LAST if not descending else -_NONE_LAST
    return value


SORTS: dict[str, Callable[[PlantSummary, bool], Any]] = {
    "rank": lambda s, _d: (rank_key(s.standing), _STATUS_ORDER[s.status], s.plant.name),
    "name": lambda s, _d: s.plant.name.casefold(),
    "status": lambda s, _d: (_STATUS_ORDER[s.status], s.plant.name),
    "seen": lambda s, d: _missing_last(-s.seen.timestamp() if s.seen else None, d),
    "over": lambda s, d: _missing_last(s.over_share, not d),
    "completeness": lambda s, d: _missing_last(s.completeness, d),
    "treatment": lambda s, d: _missing_last(
        s.treatment.compliant_ratio if s.treatment else None, d),
    "alerts": lambda s, _d: (-s.open_alerts, s.plant.name),
}
PARAMETERS = frozenset({"sort", "dir", "status", "cluster", "q", "chronic", "lang"})


@dataclass(frozen=True)
class Choice:
    """The reader's sorting and filters, from the query string."""

    sort: str
    descending: bool
    status: str
    cluster: str
    text: str
    chronic: bool

    def query(self, **changes: object) -> str:
        values: dict[str, object] = {
            "sort": self.sort, "dir": "desc" if self.descending else "asc",
            "status": self.status, "cluster": self.cluster, "q": self.text,
            "chronic": "1" if self.chronic else "", **changes}
        return "/?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})

    @property
    def active(self) -> bool:
        """A filter (not the order) narrows the list."""
        return bool(self.status or self.cluster or self.text or self.chronic)

    def sort_link(self, key: str) -> str:
        """The link of a column heading: that order, or the other direction when it is it."""
        descending = not self.descending if key == self.sort else False
        return self.query(sort=key, dir="desc" if descending else "asc")

    def keeps(self, summary: PlantSummary) -> bool:
        plant = summary.plant
        if self.status and summary.status != self.status:
            return False
        if self.cluster and plant.cluster != self.cluster:
            return False
        if self.chronic and not summary.chronic:
            return False
        needle = self.text.casefold()
        return not needle or needle in plant.name.casefold() or needle in plant.id


@dataclass(frozen=True)
class ClusterGroup:
    cluster: Cluster
    rows: list[PlantSummary]
    month: ClusterRow | None = None  # the cluster's collection and treatment, month so far
    linked: bool = False  # the reader may open the cluster's page


def read_choice(request: Request) -> Choice:
    params = request.query_params
    check_parameters(params, PARAMETERS)
    sort = params.get("sort", "rank")
    if sort not in SORTS:
        raise BadRequest(f"sort: choose one of {', '.join(SORTS)}", "bad_sort", sort=sort)
    direction = params.get("dir", "asc")
    if direction not in ("asc", "desc"):
        raise BadRequest("dir: asc or desc", "bad_sort", sort=direction)
    status = params.get("status", "")
    if status and status not in STATUSES:
        raise BadRequest(f"status: choose one of {', '.join(STATUSES)}", "bad_state",
                         state=status)
    return Choice(sort, direction == "desc", status, params.get("cluster", ""),
                  params.get("q", "").strip()[:100], params.get("chronic", "") == "1")


class OverviewPage(Pages):
    def routes(self) -> list[Route]:
        return [Route("/", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        ctx = self.ctx
        scope = ctx.scope(request)
        choice = read_choice(request)
        plants = scope.plants()
        clusters = ctx.directory.clusters(plants)
        now = ctx.clock()
        summaries = await run_in_threadpool(summarise, plants, ctx.results, ctx.alerts,
                                            ctx.checks, now)
        kept = [s for s in summaries if choice.keeps(s)]
        order = SORTS[choice.sort]
        kept.sort(key=lambda s: order(s, choice.descending), reverse=choice.descending)
        rows: dict[str, list[PlantSummary]] = {}
        for summary in kept:
            rows.setdefault(summary.plant.cluster, []).append(summary)
        shown = [c for c in clusters if c.id in rows]
        months = await run_in_threadpool(
            lambda: [this_month(ctx.sources.clusters, c.layout, now) for c in shown])
        groups = [ClusterGroup(c, rows[c.id], month, scope.sees_cluster(c.layout))
                  for c, month in zip(shown, months, strict=True)]
        chronic = sorted((s for s in summaries if s.chronic), key=lambda s: rank_key(s.standing))
        words = ctx.view.words(request)
        return ctx.view.page(request, "overview.html.j2", {
            "groups": groups, "choice": choice, "statuses": STATUSES,
            "sorts": list(SORTS),
            "statuses_all": [(k, words.plant_status(k)) for k in STATUSES],
            "severities": [(k, words.severity(k)) for k in SEVERITIES],
            "clusters": clusters, "chronic": chronic,
            "rule": ctx.checks.chronic, "total": len(summaries), "shown": len(kept),
            "now": now,
        })
