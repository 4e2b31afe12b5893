"""Who is asking, per request: the gate fills it in, pages and rendering read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from console.accounts import User
from console.sessions import Session


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def visitor_of(request: Request) -> Visitor:
    visitor: Visitor = request.state.visitor
    return visitor


@dataclass
class Visitor:
    """Who is asking (per request): their session or token user, language and address."""

    user: User | None
    session: Session | None
    via_token: bool
    lang: str
    address: str
    login_token: str | None = None  # sign-in form token vouched for by the visitor's cookie
    set_cookies: list[str] = field(default_factory=list)

    @property
    def csrf(self) -> str | None:
        return self.session.csrf if self.session else self.login_token
