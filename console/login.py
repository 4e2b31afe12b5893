"""Sign-in and sign-out: `/login` (form fields `username`, `password`), `POST /logout`.

Failed attempts are counted per account and per address; past the limit both are locked for
the window and the page says until when. Every outcome goes to the audit log.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console.context import Pages
from console.gate import safe_next
from console.visitor import visitor_of


class LoginPages(Pages):
    def routes(self) -> list[Route]:
        return [
            Route("/login", self.form, methods=["GET"]),
            Route("/login", self.sign_in, methods=["POST"]),
            Route("/logout", self.sign_out, methods=["POST"]),
        ]

    async def form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if visitor_of(request).user is not None:
            return RedirectResponse(target, status_code=303)
        notice = "signed_out" if "bye" in request.query_params else None
        return self._page(request, target, notice=notice)

    async def sign_in(self, request: Request) -> Response:
        ctx = self.ctx
        form = await request.form()
        name = str(form.get("username", "")).strip().lower()[:64]
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
        address = visitor_of(request).address
        now = ctx.clock()
        until = ctx.throttle.locked_until(name, address, now)
        if until is None:
            user = await run_in_threadpool(ctx.accounts.verify, name, password)
            if user is not None:
                ctx.throttle.succeeded(name)
                cookie, _ = ctx.sessions.start(user, now)
                ctx.record(request, "login", user.name)
                response = RedirectResponse(target, status_code=303)
                ctx.cookies.set_session(response, cookie)
                return response
            ctx.throttle.failed(name, address, now)
            ctx.record(request, "login_failed", name or "-")
            until = ctx.throttle.locked_until(name, address, now)
            if until is None:
                return self._page(request, target, name, error="login_failed", status=401)
        else:
            ctx.record(request, "login_locked", name or "-", detail=f"until {until.isoformat()}")
        words = ctx.view.words(request)
        shown = words.format_datetime(until, ctx.zone)
        return self._page(request, target, name, error="login_locked", until=shown, status=429)

    async def sign_out(self, request: Request) -> Response:
        ctx = self.ctx
        cookie = request.cookies.get(ctx.cookies.session)
        visitor = visitor_of(request)
        if cookie:
            ctx.sessions.end(cookie)
        if visitor.user is not None:
            ctx.record(request, "logout", visitor.user.name)
        response = RedirectResponse("/login?bye=1", status_code=303)
        ctx.cookies.clear_session(response)
        return response

    def _page(
        self, request: Request, target: str, name: str = "", *, error: str | None = None,
        notice: str | None = None, until: str = "", status: int = 200,
    ) -> Response:
        return self.ctx.view.page(request, "login.html.j2", {
            "next": target, "username": name, "error": error, "notice": notice,
            "until": until,
        }, status)
