"""Public pages, no sign-in (Decree 08 Art. 102): `/public/` lists the plants.

PHASE 2: `/public/<plant>` (last 30 days of hourly results next to the permitted limits),
`/public/<plant>/board` (gate display) and `/api/v1/public/<plant>?days=30`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.context import Pages


class PublicPages(Pages):
    def routes(self) -> list[Route]:
        # `/public` (no slash) is redirected here by the router itself.
        return [Route("/public/", self.index, methods=["GET"])]

    async def index(self, request: Request) -> Response:
        directory = self.ctx.directory
        return self.ctx.view.page(request, "public.html.j2", {
            "clusters": directory.clusters(list(directory.plants)),
        })
