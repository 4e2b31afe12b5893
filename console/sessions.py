"""Sign-in sessions: a random id in a signed, HttpOnly, SameSite cookie; the server keeps the
id's digest, its user, its CSRF token and its times (so sign-out and a disabled account end a
session at once, which a cookie-only session cannot do).
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from console.accounts import Accounts, User, secret_digest
from console.database import Database, stamp
from console.errors import ConsoleError
from console.settings import WebSettings

# Refresh `seen_at` at most this often: a sliding idle timeout without a write per request.
_TOUCH_EVERY = timedelta(minutes=1)


def load_or_create_secret(path: Path) -> bytes:
    """The signing key in `path`; created (0600, 256 random bits) when missing. Never logged."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ConsoleError(f"{path}: the console key is too short (delete it to make a new "
                               "one; every session then ends)") from None
        return key.encode("ascii")
    except OSError as exc:
        raise ConsoleError(f"cannot create the console key {path}: {exc.strerror}") from exc
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key.encode("ascii")


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in visitor: who, and the token every state-changing request must carry."""

    user: User
    csrf: str


class Sessions:
    """Create, find and end sessions; sign and check the cookie values."""

    def __init__(
        self, db: Database, accounts: Accounts, secret: bytes,
        idle: timedelta, max_age: timedelta,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._cookie = URLSafeTimedSerializer(secret, salt="quantrac.session")
        self._login = URLSafeTimedSerializer(secret, salt="quantrac.login")
        self.idle = idle
        self.max_age = max_age

    def start(self, user: User, now: datetime) -> tuple[str, Session]:
        """A new session (a fresh id at every sign-in); returns (cookie value, session)."""
        ident, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO sessions (digest, name, csrf, created_at, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (secret_digest(ident), user.name, csrf, stamp(now), stamp(now)),
            )
            # Sessions of everyone that timed out: the table stays small without a job.
            conn.execute("DELETE FROM sessions WHERE seen_at < ? OR created_at < ?",
                         (stamp(now - self.idle), stamp(now - self.max_age)))
        return self._cookie.dumps(ident), Session(user, csrf)

    def find(self, cookie: str, now: datetime) -> Session | None:
        """The live session of a cookie value, or None (bad signature, ended, idle, disabled)."""
        try:
            ident = self._cookie.loads(cookie, max_age=int(self.max_age.total_seconds()))
        except BadSignature:
            return None
        if not isinstance(ident, str):
            return None
        rows = self._db.rows("SELECT * FROM sessions WHERE digest = ?", (secret_digest(ident),))
        if not rows:
            return None
        row = rows[0]
        seen = datetime.fromisoformat(row["seen_at"])
        if now - seen > self.idle or now - datetime.fromisoformat(row["created_at"]) > (
            self.max_age
        ):
            self.end(cookie)
            return None
        user = self._accounts.get(row["name"])
        if user is None or user.disabled:
            return None
        if now - seen > _TOUCH_EVERY:
            with self._db.write() as conn:
                conn.execute("UPDATE sessions SET seen_at = ? WHERE digest = ?",
                             (stamp(now), row["digest"]))
        return Session(user, row["csrf"])

    def end(self, cookie: str) -> None:
        """Sign out: the session row goes, so the cookie is worthless even if kept."""
        try:
            ident = self._cookie.loads(cookie)
        except BadSignature:
            return
        with self._db.write() as conn:
            conn.execute("DELETE FROM sessions WHERE digest = ?", (secret_digest(str(ident)),))

    # -- the sign-in form's CSRF token (double submit: before there is a session) ----------

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form token) for an anonymous sign-in form."""
        token = secrets.token_urlsafe(32)
        return self._login.dumps(token), token

    def login_token_of(self, cookie: str) -> str | None:
        """The form token a sign-in cookie vouches for (None when forged or older than a day)."""
        try:
            token = self._login.loads(cookie, max_age=86400)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class Cookies:
    """Names and attributes of the console's cookies (Secure and `__Host-` under TLS)."""

    def __init__(self, settings: WebSettings, session_max_age: int) -> None:
        self.secure = settings.secure_cookies
        prefix = "__Host-" if self.secure else ""
        self.session = f"{prefix}quantrac_session"
        self.login = f"{prefix}quantrac_login"
        self.lang = f"{prefix}quantrac_lang"
        self._session_max_age = session_max_age

    def header(self, name: str, value: str, max_age: int | None) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self.secure:
            morsel["secure"] = True
        if max_age is not None:
            morsel["max-age"] = max_age
        return morsel.OutputString()

    def set_session(self, response: Response, value: str) -> None:
        response.headers.append("set-cookie", self.header(self.session, value,
                                                          self._session_max_age))
        response.headers.append("set-cookie", self.header(self.login, "", 0))

    def clear_session(self, response: Response) -> None:
        response.headers.append("set-cookie", self.header(self.session, "", 0))
