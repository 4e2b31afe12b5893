"""Rendering: Jinja2 templates with autoescaping (every value is text unless a template says
otherwise, so a plant named `<script>` shows as those characters), the words of the visitor's
language, and one shape for errors (an HTML page, or JSON under /api/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from console.errors import Refusal
from console.visitor import is_api, visitor_of
from console.words import Words


def static_version() -> str:
    """A short digest of the static files: `?v=` in their URLs, so a new release is fetched
    although browsers cache the files."""
    digest = hashlib.sha256()
    root = resources.files("console").joinpath("static")
    for name in ("console.css", "console.js", "charts.js"):
        digest.update(root.joinpath(name).read_bytes())
    return digest.hexdigest()[:10]


class View:
    """Templates and words; `page()` renders a page, `error()` an error in the right shape."""

    def __init__(self, words: Mapping[str, Words], version: str) -> None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["isodate"] = date.fromisoformat
        self.templates = Jinja2Templates(env=env)
        self._words = words
        self._version = version

    def words(self, request: Request) -> Words:
        return self._words[visitor_of(request).lang]

    def page(
        self, request: Request, name: str, context: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        visitor = visitor_of(request)
        full = {
            "w": self._words[visitor.lang],
            "visitor": visitor,
            "user": visitor.user,
            "csrf": visitor.csrf or "",
            "path": request.url.path,
            "lang_url": lambda lang: _with_query(request, lang=lang),
            "static": lambda file: f"/static/{file}?v={self._version}",
            **(context or {}),
        }
        return self.templates.TemplateResponse(request, name, full, status_code=status)

    def refusal(self, request: Request, exc: Exception) -> Response:
        """A Refusal as an error page (its UI text) or JSON (its English text)."""
        if not isinstance(exc, Refusal):
            raise exc
        detail = str(exc) if is_api(request.url.path) else self.words(request)(
            exc.key, **exc.values)
        return self.error(request, exc.status, f"error_{exc.status}", detail)

    def error(self, request: Request, status: int, key: str, detail: str = "") -> Response:
        """`key` is a UI text key (csrf_refused, error_404, …); `detail` a specific line."""
        words = self.words(request)
        message = words(key)
        if is_api(request.url.path):
            return JSONResponse({"error": detail or message, "status": status},
                                status_code=status)
        return self.page(request, "error.html.j2",
                         {"status": status, "message": message, "detail": detail}, status)


def _with_query(request: Request, **changes: str) -> str:
    query = dict(request.query_params)
    query.update(changes)
    return f"{request.url.path}?{urlencode(query)}"
