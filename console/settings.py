"""The `[web]` config section: where the console listens, its cookies, sign-in limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DEFAULT_LISTEN = "127.0.0.1:8080"
_LISTEN_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) → (host, port); ValueError naming the problem."""
    match = _LISTEN_RE.match(text.strip())
    if not match:
        raise ValueError(f"expected HOST:PORT (e.g. {DEFAULT_LISTEN}), got {text!r}")
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not in 1..65535")
    return match.group("host").strip("[]"), port


def _checked_listen(text: str) -> str:
    parse_listen(text)
    return text


Listen = Annotated[str, AfterValidator(_checked_listen)]


class WebSettings(BaseModel):
    """The console (`quantrac web`): address, cookies, sessions, sign-in rate limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: Listen = Field(default=DEFAULT_LISTEN, description="HOST:PORT to serve on; "
                           "env QUANTRAC_WEB_LISTEN and --listen win")
    secure_cookies: bool = Field(default=False, description="mark cookies Secure (and send "
                                 "HSTS): set true when users reach the console over TLS")
    secret_key_file: Path | None = Field(
        default=None, description="session signing key; default <state dir>/console.key, "
        "generated (0600) on first start")
    session_idle_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60,
                                      description="a session unused this long ends")
    session_max_hours: int = Field(default=24, ge=1, le=30 * 24,
                                   description="a session ends this long after sign-in")
    login_max_failures_user: int = Field(default=5, ge=1, description="failed sign-ins of one "
                                         "account within login_lock_minutes that lock it")
    login_max_failures_address: int = Field(default=20, ge=1, description="failed sign-ins "
                                            "from one address within login_lock_minutes that "
                                            "lock it")
    login_lock_minutes: int = Field(default=15, ge=1, le=24 * 60,
                                    description="counting window and lock length")
    lang: Literal["vi", "en"] = Field(default="vi", description="language of a first visit")
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="reverse proxies whose X-Forwarded-For gives the client address",
    )
