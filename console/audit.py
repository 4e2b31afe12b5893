"""The audit log: every sign-in (success and failure), sign-out, acknowledgement and account
change, with who, when and from where; append-only (no code path updates or deletes it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from console.database import Database, stamp

log = logging.getLogger("quantrac.console.audit")

ACTIONS = ("login", "login_failed", "login_locked", "logout", "ack", "user_added",
           "user_disabled", "token_issued")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    action: str
    actor: str
    target: str = ""
    address: str = ""
    detail: str = ""


class AuditLog:
    """Table `audit` of the console database; each entry is also logged (INFO)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, entry: AuditEntry) -> None:
        if entry.action not in ACTIONS:
            raise ValueError(f"unknown audit action {entry.action!r}")
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO audit (at, action, actor, target, address, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (stamp(entry.at), entry.action, entry.actor, entry.target, entry.address,
                 entry.detail),
            )
        log.info("audit %s by %s%s%s", entry.action, entry.actor,
                 f" on {entry.target}" if entry.target else "",
                 f" from {entry.address}" if entry.address else "")

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""
        rows = self._db.rows("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", (limit,))
        return [AuditEntry(datetime.fromisoformat(r["at"]), r["action"], r["actor"], r["target"],
                           r["address"], r["detail"]) for r in rows]
