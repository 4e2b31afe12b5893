"""The console's one context: settings, data sources, account services, rendering and the
clock, built once by `console.app.create_app` and handed to every page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.routing import Route

from console.accounts import Accounts
from console.audit import AuditEntry, AuditLog
from console.scope import Directory, Scope
from console.sessions import Cookies, Sessions
from console.settings import WebSettings
from console.sources import AlertSource, CheckResults, Sources
from console.throttle import LoginThrottle
from console.view import View
from console.visitor import visitor_of
from rules.settings import CheckSettings

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Context:
    settings: WebSettings
    directory: Directory
    sources: Sources
    checks: CheckSettings
    accounts: Accounts
    sessions: Sessions
    throttle: LoginThrottle
    audit: AuditLog
    view: View
    cookies: Cookies
    clock: Callable[[], datetime]  # now (the demo's is simulated)

    @property
    def alerts(self) -> AlertSource:
        return self.sources.alerts

    @property
    def results(self) -> CheckResults:
        return self.sources.results

    @property
    def zone(self) -> ZoneInfo:
        """The zone of times that belong to no plant (sign-in locks): the first plant's."""
        plants = self.directory.plants
        return plants[0].zone if plants else ZoneInfo(DEFAULT_ZONE)

    def scope(self, request: Request) -> Scope:
        """The signed-in user's scope (the gate lets no anonymous request reach a page that
        asks for it)."""
        user = visitor_of(request).user
        if user is None:
            raise PermissionError("no signed-in user on a protected route")
        return Scope(user, self.directory)

    def record(self, request: Request, action: str, actor: str, target: str = "",
               detail: str = "") -> None:
        """An audit entry for this request (its time and client address)."""
        self.audit.record(AuditEntry(self.clock(), action, actor, target,
                                     visitor_of(request).address, detail))


class Pages:
    """A group of routes sharing the console context (each page module has one)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def routes(self) -> list[Route]:
        raise NotImplementedError
