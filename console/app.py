"""The console application: `create_app` builds the context, the routes, the gate and the
error pages from the settings, the plants, the alert source and the state directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from console.accounts import Accounts
from console.alertpages import AlertPages
from console.api import Api
from console.audit import AuditLog
from console.clusterpage import ClusterPage
from console.context import Context
from console.database import Database
from console.errors import Refusal
from console.gate import Gate
from console.login import LoginPages
from console.overview import OverviewPage
from console.plantpage import PlantPage
from console.public import PublicPages
from console.scope import Directory
from console.sessions import Cookies, Sessions, load_or_create_secret
from console.settings import WebSettings
from console.sources import AlertSource, Sources
from console.throttle import LoginThrottle
from console.view import View, static_version
from console.visitor import visitor_of
from console.words import LANGS, load_words
from rules.cluster import ClusterLayout
from rules.permit import Plant
from rules.settings import CheckSettings

KEY_FILE = "console.key"
_STATUS_KEYS = {400: "error_400", 403: "error_403", 404: "error_404", 405: "error_405",
                413: "error_413"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: WebSettings,
    plants: Sequence[Plant],
    sources: Sources,
    state_dir: Path,
    clock: Callable[[], datetime] = utc_now,
    checks: CheckSettings | None = None,
    layouts: Sequence[ClusterLayout] = (),
) -> Starlette:
    """The console over these plants (and clusters) and these sources; accounts, sessions and
    the audit log live in `state_dir` (the signing key too, unless `secret_key_file` says
    otherwise). `checks`: how the checks judge (the chronic rule, when data is stale)."""
    db = Database(state_dir)
    accounts = Accounts(db)
    secret = load_or_create_secret(settings.secret_key_file or state_dir / KEY_FILE)
    max_age = timedelta(hours=settings.session_max_hours)
    sessions = Sessions(db, accounts, secret, timedelta(minutes=settings.session_idle_minutes),
                        max_age)
    cookies = Cookies(settings, int(max_age.total_seconds()))
    view = View({lang: load_words(lang) for lang in LANGS}, static_version())
    ctx = Context(
        settings=settings, directory=Directory(plants, layouts), sources=sources,
        checks=checks or CheckSettings(), accounts=accounts,
        sessions=sessions,
        throttle=LoginThrottle(db, settings.login_max_failures_user,
                               settings.login_max_failures_address,
                               timedelta(minutes=settings.login_lock_minutes)),
        audit=AuditLog(db), view=view, cookies=cookies, clock=clock,
    )
    routes: list[BaseRoute] = [
        Route("/healthz", _health(sources.alerts, db), methods=["GET"]),
        *LoginPages(ctx).routes(),
        *OverviewPage(ctx).routes(),
        *ClusterPage(ctx).routes(),
        *PlantPage(ctx).routes(),
        *AlertPages(ctx).routes(),
        *PublicPages(ctx).routes(),
        *Api(ctx).routes(),
        Mount("/static", StaticFiles(packages=[("console", "static")]), name="static"),
    ]
    refuse = _refusal(ctx)
    app = Starlette(
        routes=routes,
        # Compression inside the gate: a public 30-day page is ~250 kB of HTML, ~25 kB
        # compressed, on a phone's connection.
        middleware=[Middleware(Gate, ctx=ctx, refuse=refuse),
                    Middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)],
        exception_handlers={
            Refusal: view.refusal,
            HTTPException: _http_error(view),
        },
    )
    app.state.context = ctx
    return app


def _refusal(ctx: Context) -> Callable[[Request, int, str], Response]:
    """What the gate answers when it refuses (CSRF, body too large); a stale sign-in form
    gets the form again with a fresh token instead of a bare error."""

    def refuse(request: Request, status: int, key: str) -> Response:
        visitor = visitor_of(request)
        if request.url.path == "/login" and status == 403 and visitor.session is None:
            value, visitor.login_token = ctx.sessions.login_token()
            visitor.set_cookies.append(ctx.cookies.header(ctx.cookies.login, value, None))
            return ctx.view.page(request, "login.html.j2", {
                "next": "/", "username": "", "error": "form_expired", "notice": None,
                "until": "",
            }, 403)
        return ctx.view.error(request, status, key)

    return refuse


def _http_error(view: View) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return view.error(request, status, _STATUS_KEYS.get(status, "error_500"))

    return handle


def _health(alerts: AlertSource, db: Database) -> Callable[[Request], Response]:
    """`/healthz`: 200 when the alert book and the console database answer, else 503."""

    def health(request: Request) -> Response:
        try:
            alerts.change_marker()
            db.rows("SELECT 1")
        except Exception as exc:  # any failure of either store means: not healthy
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__},
                                status_code=503)
        return JSONResponse({"status": "ok"})

    return health
