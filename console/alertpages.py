"""Alerts: the list with filters and each alert's history (`/alerts`), the same list as a
fragment for live refresh (`/alerts/list`), a server-sent event stream that tells open pages
when the alert book changed (`/alerts/events`), and acknowledgement
(`POST /alerts/<id>/ack`, fields `reason`, `note`) through the alert manager.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from alerts.alert import ACK_REASONS, Alert
from alerts.book import alert_seq
from alerts.errors import AlertsError
from alerts.history import HistoryEntry
from console.context import Context
from console.errors import BadRequest
from console.scope import NotFound, Scope
from console.sources import AlertSource

STATES = ("all", "open", "resolved")
LIST_LIMIT = 200
NOTE_LIMIT = 500
STREAM_SECONDS = 55.0  # a stream ends by itself (the browser reconnects): shutdowns stay quick
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Filters:
    plant: str | None
    state: str

    def query(self) -> str:
        parts = [f"state={self.state}"] + ([f"plant={self.plant}"] if self.plant else [])
        return "&".join(parts)


@dataclass(frozen=True)
class AlertRow:
    """One alert as the page shows it, with its history and whether the user may ack it."""

    alert: Alert
    plant_name: str
    zone: ZoneInfo
    history: list[HistoryEntry]
    may_ack: bool


class AlertFeed:
    """The alert book's change marker, read at most twice a second for all open pages."""

    def __init__(self, alerts: AlertSource, max_age: float = 0.5) -> None:
        self._alerts = alerts
        self._max_age = max_age
        self._marker = -1
        self._read_at = float("-inf")
        self._lock = anyio.Lock()

    async def marker(self) -> int:
        async with self._lock:
            if time.monotonic() - self._read_at >= self._max_age:
                self._marker = await run_in_threadpool(self._alerts.change_marker)
                self._read_at = time.monotonic()
            return self._marker


class AlertPages:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.feed = AlertFeed(ctx.alerts)

    def routes(self) -> list[Route]:
        return [
            Route("/alerts", self.page, methods=["GET"]),
            Route("/alerts/list", self.fragment, methods=["GET"]),
            Route("/alerts/events", self.events, methods=["GET"]),
            Route("/alerts/{alert_id}/ack", self.acknowledge, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        filters = self._filters(request, scope)
        rows = await run_in_threadpool(self._rows, scope, filters)
        marker = await self.feed.marker()
        done = request.query_params.get("done")
        return self.ctx.view.page(request, "alerts.html.j2", {
            "rows": rows, "filters": filters, "plants": scope.plants(), "states": STATES,
            "reasons": ACK_REASONS, "marker": marker,
            "done": done if done and _is_alert_id(done) else None,
        })

    async def fragment(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        filters = self._filters(request, scope)
        rows = await run_in_threadpool(self._rows, scope, filters)
        return self.ctx.view.page(request, "_alert_list.html.j2", {
            "rows": rows, "filters": filters, "reasons": ACK_REASONS,
            "marker": await self.feed.marker(),
        })

    async def events(self, request: Request) -> Response:
        """`event: alerts` with the book's change marker whenever it changes."""
        self.ctx.scope(request)

        async def stream() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            last, quiet_since = None, time.monotonic()
            ends = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < ends:
                marker = await self.feed.marker()
                if marker != last:
                    yield f"event: alerts\ndata: {marker}\n\n"
                    last, quiet_since = marker, time.monotonic()
                elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                    yield ": keep-alive\n\n"  # proxies close idle connections
                    quiet_since = time.monotonic()
                await anyio.sleep(POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    async def acknowledge(self, request: Request) -> Response:
        ctx = self.ctx
        scope = ctx.scope(request)
        ident = request.path_params["alert_id"]
        if not _is_alert_id(ident):
            raise BadRequest(f"bad alert id {ident!r} (expected e.g. A-000123)")
        alert = await run_in_threadpool(_find, ctx.alerts, ident)
        scope.check_ack(alert.plant)
        form = await request.form()
        reason = str(form.get("reason", "")).strip()
        note = str(form.get("note", "")).strip()
        if reason not in ACK_REASONS:
            raise BadRequest(f"reason: choose one of {', '.join(ACK_REASONS)}")
        if reason == "other" and not note:
            raise BadRequest("note: the reason 'other' needs a note")
        if len(note) > NOTE_LIMIT:
            raise BadRequest(f"note: at most {NOTE_LIMIT} characters")
        user = scope.user
        try:
            saved = await run_in_threadpool(ctx.alerts.ack, alert.id, user.name, note or None,
                                            ctx.clock(), reason)
        except AlertsError as exc:
            raise BadRequest(str(exc)) from exc
        ctx.record(request, "ack", user.name, saved.id,
                   f"{reason}: {note}" if note else reason)
        back = str(form.get("back", ""))
        back = back if back.startswith("state=") else "state=all"
        return RedirectResponse(f"/alerts?{back}&done={saved.id}#{saved.id}", status_code=303)

    def _filters(self, request: Request, scope: Scope) -> Filters:
        unknown = set(request.query_params) - {"plant", "state", "done", "lang"}
        if unknown:
            raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        state = request.query_params.get("state") or "all"
        if state not in STATES:
            raise BadRequest(f"state: expected one of {', '.join(STATES)}, got {state!r}")
        plant = request.query_params.get("plant") or None
        if plant is not None:
            scope.plant(plant)  # 404 unknown, 403 outside the scope
        return Filters(plant, state)

    def _rows(self, scope: Scope, filters: Filters) -> list[AlertRow]:
        plants = [filters.plant] if filters.plant else scope.plant_ids()
        alerts = self.ctx.alerts.list_alerts(open_only=filters.state == "open", plants=plants,
                                             limit=LIST_LIMIT)
        if filters.state == "resolved":
            alerts = [a for a in alerts if a.state == "resolved"]
        histories = self.ctx.alerts.histories([a.id for a in alerts]) if alerts else {}
        rows = []
        for alert in alerts:
            plant = self.ctx.directory.plant(alert.plant)
            rows.append(AlertRow(alert, plant.name, plant.zone, histories.get(alert.id, []),
                                 scope.may_ack(plant) and not alert.acknowledged))
        return rows


def _is_alert_id(text: str) -> bool:
    try:
        alert_seq(text)
    except AlertsError:
        return False
    return True


def _find(alerts: AlertSource, ident: str) -> Alert:
    try:
        return alerts.get(ident)
    except AlertsError as exc:
        raise NotFound(str(exc)) from exc
