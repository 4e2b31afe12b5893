"""Console accounts: users with a role and a scope, argon2id password hashes, API tokens.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 low-memory profile: 64 MiB,
3 passes); API tokens are 256-bit random strings of which only the SHA-256 is stored (a fast
hash is enough for a secret that is not guessable).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from console.database import Database, stamp
from console.errors import AccountError

Role = Literal["admin", "regulator", "operator"]
ROLES: tuple[Role, ...] = ("admin", "regulator", "operator")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "qt_"


@dataclass(frozen=True, slots=True)
class User:
    """One account. An operator's scope is `plants` plus the plants of `clusters`; a
    regulator's is the plants of `clusters` (every plant when empty); an admin's is all."""

    name: str
    role: Role
    plants: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    disabled: bool = False
    created_at: datetime | None = None

    def scope_text(self) -> str:
        """`plants: a, b; clusters: c` or `all` (for listings)."""
        parts = []
        if self.plants:
            parts.append("plants: " + ", ".join(self.plants))
        if self.clusters:
            parts.append("clusters: " + ", ".join(self.clusters))
        return "; ".join(parts) or ("all" if self.role != "operator" else "none")


def check_account(
    name: str, role: str, plants: Sequence[str], clusters: Sequence[str],
    known_plants: Collection[str], known_clusters: Collection[str],
) -> None:
    """Raise AccountError naming the field for a bad name, role or scope."""
    if not NAME_RE.match(name):
        raise AccountError(f"NAME: {name!r} is not a user name (lower-case letters, digits, "
                           "'.', '_', '-'; at most 64)")
    if role not in ROLES:
        raise AccountError(f"--role: unknown role {role!r} (use {', '.join(ROLES)})")
    unknown = [p for p in plants if p not in known_plants]
    if unknown:
        raise AccountError(f"--plants: {', '.join(unknown)} not in the config "
                           f"(known: {', '.join(sorted(known_plants)) or 'none'})")
    unknown = [c for c in clusters if c not in known_clusters]
    if unknown:
        raise AccountError(f"--clusters: {', '.join(unknown)} not in the config "
                           f"(known: {', '.join(sorted(known_clusters)) or 'none'})")
    if role == "operator" and not (plants or clusters):
        raise AccountError("--plants: an operator needs --plants or --clusters")
    if role == "regulator" and plants:
        raise AccountError("--plants: a regulator is scoped by --clusters (none = all)")
    if role == "admin" and (plants or clusters):
        raise AccountError("--plants: an admin sees every plant; give no --plants/--clusters")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")


def new_password() -> str:
    """A generated password (96 random bits, URL-safe: easy to paste)."""
    return secrets.token_urlsafe(12)


def secret_digest(secret: str) -> str:
    """SHA-256 hex of a random secret (API token, session id): what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Accounts:
    """The account store (table `users`, `tokens` of the console database)."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    def add(
        self, name: str, role: Role, password: str, now: datetime,
        plants: Sequence[str] = (), clusters: Sequence[str] = (),
    ) -> User:
        check_password(password)
        digest = self._hasher.hash(password)
        try:
            with self._db.write() as conn:
                conn.execute(
                    "INSERT INTO users (name, role, plants, clusters, password_hash, created_at, "
                    "changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, role, json.dumps(list(plants)), json.dumps(list(clusters)), digest,
                     stamp(now), stamp(now)),
                )
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"NAME: user {name!r} already exists") from exc
        return self.require(name)

    def get(self, name: str) -> User | None:
        rows = self._db.rows("SELECT * FROM users WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountError(f"NAME: no user {name!r} (see `quantrac users list`)")
        return user

    def users(self) -> list[User]:
        return [_user(row) for row in self._db.rows("SELECT * FROM users ORDER BY name")]

    def disable(self, name: str, now: datetime) -> User:
        """Disable an account: its sessions end and its API tokens stop working."""
        self.require(name)
        with self._db.write() as conn:
            conn.execute("UPDATE users SET disabled = 1, changed_at = ? WHERE name = ?",
                         (stamp(now), name))
            conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
            conn.execute("DELETE FROM tokens WHERE name = ?", (name,))
        return self.require(name)

    def verify(self, name: str, password: str) -> User | None:
        """The enabled user whose password this is, else None (slow on purpose: argon2id)."""
        rows = self._db.rows("SELECT * FROM users WHERE name = ?", (name,))
        if not rows and self._decoy is None:
            # Verified for unknown names, so a wrong name costs as long as a wrong password.
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        stored: str = rows[0]["password_hash"] if rows else str(self._decoy)
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows or rows[0]["disabled"]:
            return None
        if self._hasher.check_needs_rehash(stored):  # parameters raised since it was set
            with self._db.write() as conn:
                conn.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                             (self._hasher.hash(password), name))
        return _user(rows[0])

    def issue_token(self, name: str, now: datetime) -> str:
        """A new API bearer token for an enabled user; only its digest is stored."""
        user = self.require(name)
        if user.disabled:
            raise AccountError(f"NAME: user {name!r} is disabled")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute("INSERT INTO tokens (digest, name, created_at) VALUES (?, ?, ?)",
                         (secret_digest(token), name, stamp(now)))
        return token

    def user_for_token(self, token: str) -> User | None:
        """The enabled user owning this bearer token, else None."""
        rows = self._db.rows(
            "SELECT u.* FROM tokens t JOIN users u ON u.name = t.name WHERE t.digest = ?",
            (secret_digest(token),),
        )
        if not rows or rows[0]["disabled"]:
            return None
        return _user(rows[0])

    def token_count(self, name: str) -> int:
        return int(self._db.rows("SELECT COUNT(*) FROM tokens WHERE name = ?", (name,))[0][0])


def _user(row: sqlite3.Row) -> User:
    return User(
        name=row["name"], role=cast(Role, row["role"]),
        plants=tuple(json.loads(row["plants"])), clusters=tuple(json.loads(row["clusters"])),
        disabled=bool(row["disabled"]), created_at=datetime.fromisoformat(row["created_at"]),
    )
