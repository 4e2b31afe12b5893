"""Alerts: the list with filters and each alert's history (`/alerts`), the same list as a
fragment for live refresh (`/alerts/list`), the alert book's change marker that open pages
poll every 2 s (`/alerts/marker`), and acknowledgement (`POST /alerts/<id>/ack`, fields
`reason`, `note`) through the alert manager.

Polling, not server-sent events: an event stream holds one of the browser's six HTTP/1.1
connections per host for as long as the page is open, so a few console tabs would starve the
others; a poll is one small request, answered from a marker cached for all clients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from alerts.alert import ACK_REASONS, Alert
from alerts.book import alert_seq
from alerts.errors import AlertsError
from alerts.history import HistoryEntry
from console.context import Context, Pages
from console.errors import BadRequest, NotFound, check_parameters
from console.scope import Scope
from console.sources import AlertSource
from console.words import Words
from rules.limits import plant_limits

STATES = ("all", "open", "resolved")
LIST_LIMIT = 200
NOTE_LIMIT = 500


@dataclass(frozen=True)
class Filters:
    plant: str | None
    state: str

    def query(self) -> str:
        parts = [f"state={self.state}"] + ([f"plant={self.plant}"] if self.plant else [])
        return "&".join(parts)


@dataclass(frozen=True)
class HistoryLine:
    entry: HistoryEntry
    detail: str  # in the reader's words where the book stores codes (severities)


@dataclass(frozen=True)
class AlertRow:
    """One alert as the page shows it, with its history and whether the user may ack it."""

    alert: Alert
    plant_name: str
    zone: ZoneInfo
    unit: str
    history: list[HistoryLine]
    may_ack: bool


def history_detail(entry: HistoryEntry, words: Words) -> str:
    """The detail of a history line: severities (opened, fired, upgraded "a -> b") in words."""
    if entry.event in ("opened", "fired"):
        return str(words.severity(entry.detail))
    if entry.event == "upgraded" and " -> " in entry.detail:
        low, high = entry.detail.split(" -> ", 1)
        return f"{words.severity(low)} → {words.severity(high)}"
    return entry.detail


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


class AlertPages(Pages):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.feed = AlertFeed(ctx.alerts)

    def routes(self) -> list[Route]:
        return [
            Route("/alerts", self.page, methods=["GET"]),
            Route("/alerts/list", self.fragment, methods=["GET"]),
            Route("/alerts/marker", self.marker, methods=["GET"]),
            Route("/alerts/{alert_id}/ack", self.acknowledge, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        scope = self.ctx.scope(request)
        filters = self._filters(request, scope)
        rows = await run_in_threadpool(self._rows, scope, filters, self.ctx.view.words(request))
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
        rows = await run_in_threadpool(self._rows, scope, filters, self.ctx.view.words(request))
        return self.ctx.view.page(request, "_alert_list.html.j2", {
            "rows": rows, "filters": filters, "reasons": ACK_REASONS,
            "marker": await self.feed.marker(),
        })

    async def marker(self, request: Request) -> Response:
        """`{"marker": n}`: n grows with every change of the alert book."""
        self.ctx.scope(request)
        return JSONResponse({"marker": await self.feed.marker()})

    async def acknowledge(self, request: Request) -> Response:
        ctx = self.ctx
        scope = ctx.scope(request)
        ident = request.path_params["alert_id"]
        if not _is_alert_id(ident):
            raise BadRequest(f"bad alert id {ident!r} (expected e.g. A-000123)", "bad_alert_id",
                             id=ident)
        alert = await run_in_threadpool(_find, ctx.alerts, ident)
        scope.check_ack(alert.plant)
        form = await request.form()
        reason = str(form.get("reason", "")).strip()
        note = str(form.get("note", "")).strip()
        if reason not in ACK_REASONS:
            raise BadRequest(f"reason: choose one of {', '.join(ACK_REASONS)}", "bad_reason")
        if reason == "other" and not note:
            raise BadRequest("note: the reason 'other' needs a note", "note_needed")
        if len(note) > NOTE_LIMIT:
            raise BadRequest(f"note: at most {NOTE_LIMIT} characters", "note_too_long",
                             limit=NOTE_LIMIT)
        user = scope.user
        try:
            saved = await run_in_threadpool(ctx.alerts.ack, alert.id, user.name, note or None,
                                            ctx.clock(), reason)
        except AlertsError as exc:
            raise BadRequest(str(exc), "ack_refused", reason=str(exc)) from exc
        ctx.record(request, "ack", user.name, saved.id,
                   f"{reason}: {note}" if note else reason)
        back = str(form.get("back", ""))
        back = back if back.startswith("state=") else "state=all"
        return RedirectResponse(f"/alerts?{back}&done={saved.id}#{saved.id}", status_code=303)

    def _filters(self, request: Request, scope: Scope) -> Filters:
        check_parameters(request.query_params, {"plant", "state", "done", "lang"})
        state = request.query_params.get("state") or "all"
        if state not in STATES:
            raise BadRequest(f"state: expected one of {', '.join(STATES)}, got {state!r}",
                             "bad_state", state=state)
        plant = request.query_params.get("plant") or None
        if plant is not None:
            scope.plant(plant)  # 404 unknown, 403 outside the scope
        return Filters(plant, state)

    def _rows(self, scope: Scope, filters: Filters, words: Words) -> list[AlertRow]:
        plants = [filters.plant] if filters.plant else scope.plant_ids()
        alerts = self.ctx.alerts.list_alerts(open_only=filters.state == "open", plants=plants,
                                             limit=LIST_LIMIT)
        if filters.state == "resolved":
            alerts = [a for a in alerts if a.state == "resolved"]
        histories = self.ctx.alerts.histories([a.id for a in alerts]) if alerts else {}
        units: dict[str, dict[str, str]] = {}
        rows = []
        for alert in alerts:
            plant = self.ctx.directory.plant(alert.plant)
            if plant.id not in units:  # the unit of each parameter, from the plant's limits
                today = self.ctx.clock().astimezone(plant.zone).date()
                units[plant.id] = {key: limit.unit
                                   for key, limit in plant_limits(plant, today).limits.items()}
            history = [HistoryLine(entry, history_detail(entry, words))
                       for entry in histories.get(alert.id, [])]
            rows.append(AlertRow(alert, plant.name, plant.zone,
                                 units[plant.id].get(alert.parameter, ""), history,
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
        raise NotFound(str(exc), "alert_unknown", id=ident) from exc
