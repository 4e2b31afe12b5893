"""The gate every request passes (an ASGI middleware): who the visitor is (session cookie, or
a bearer token on /api/), refusal of anonymous access to anything but the public paths
(pages 303 → /login, API 401), the CSRF check of every state-changing request, the visitor's
language, and the security headers of every response.

Deny by default: a route added later is protected unless its path is public here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.context import Context
from console.sessions import same_token
from console.visitor import Visitor, is_api
from console.words import LANGS

PUBLIC_PREFIXES = ("/public/", "/static/", "/api/v1/public/")
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/public"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_LIMIT = 64 * 1024  # bytes of a state-changing request body we read (forms are small)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Every script and style is a file of ours: no inline code, no other origin, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

Refusal = Callable[[Request, int, str], Response]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local page to return to after sign-in (never another site, nor sign-out)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return "/" if target.startswith(("/logout", "/login")) else target


class Gate:
    """The middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, ctx: Context, refuse: Refusal) -> None:
        self.app = app
        self.ctx = ctx
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        visitor = self._identify(request)
        scope.setdefault("state", {})["visitor"] = visitor
        send = self._decorate(send, visitor, path)
        if not is_public(path) and visitor.user is None:
            await self._anonymous(request, path)(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and not visitor.via_token:
            body = await _read_body(receive)
            if body is None:
                await self._refuse(request, 413, "error_413")(scope, receive, send)
                return
            if not same_token(visitor.csrf, _csrf_given(request, body)):
                await self._refuse(request, 403, "csrf_refused")(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _identify(self, request: Request) -> Visitor:
        address = request.client.host if request.client else ""
        lang = self._lang(request)
        visitor = Visitor(None, None, False, lang, address)
        cookies = self.ctx.cookies
        if lang != request.cookies.get(cookies.lang) and "lang" in request.query_params:
            visitor.set_cookies.append(cookies.header(cookies.lang, lang, 31536000))
        authorization = request.headers.get("authorization", "")
        if is_api(request.url.path) and authorization.lower().startswith("bearer "):
            visitor.user = self.ctx.accounts.user_for_token(authorization[7:].strip())
            visitor.via_token = visitor.user is not None
            return visitor
        cookie = request.cookies.get(self.ctx.cookies.session)
        if cookie:
            visitor.session = self.ctx.sessions.find(cookie, self.ctx.clock())
            visitor.user = visitor.session.user if visitor.session else None
        if visitor.session is None:
            login = request.cookies.get(self.ctx.cookies.login)
            visitor.login_token = self.ctx.sessions.login_token_of(login) if login else None
            if visitor.login_token is None and request.url.path == "/login":
                value, visitor.login_token = self.ctx.sessions.login_token()
                visitor.set_cookies.append(cookies.header(cookies.login, value, None))
        return visitor

    def _lang(self, request: Request) -> str:
        cookie = request.cookies.get(self.ctx.cookies.lang)
        for candidate in (request.query_params.get("lang"), cookie):
            if candidate in LANGS:
                return candidate
        return self.ctx.settings.lang

    def _anonymous(self, request: Request, path: str) -> Response:
        if is_api(path):
            return JSONResponse({"error": "sign in or send Authorization: Bearer <token>",
                                 "status": 401}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="quantrac"'})
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    def _decorate(self, send: Send, visitor: Visitor, path: str) -> Send:
        """Add the security headers, cookies and cache policy to the response start."""
        private = not path.startswith(PUBLIC_PREFIXES)

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                if self.ctx.cookies.secure:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if private:
                    headers.setdefault("cache-control", "no-store")
                for cookie in visitor.set_cookies:
                    headers.append("set-cookie", cookie)
            await send(message)

        return decorated


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than FORM_LIMIT."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already read body to the app, then waits as before (for
    the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _csrf_given(request: Request, body: bytes) -> str | None:
    """The token from the X-CSRF-Token header, else from an urlencoded form or JSON body."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD)
        return values[0] if values else None
    if kind == "application/json":
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        token = doc.get(CSRF_FIELD) if isinstance(doc, dict) else None
        return token if isinstance(token, str) else None
    return None
