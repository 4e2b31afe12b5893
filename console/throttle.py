"""Sign-in rate limits: too many failures for one account, or from one address, within the
window lock further attempts (even with the right password) until the window has passed."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.database import Database, stamp


class LoginThrottle:
    """Failed sign-ins in the console database, counted per account and per address."""

    def __init__(
        self, db: Database, max_per_user: int, max_per_address: int, window: timedelta
    ) -> None:
        self._db = db
        self._max_user = max_per_user
        self._max_address = max_per_address
        self.window = window

    def locked_until(self, name: str, address: str, now: datetime) -> datetime | None:
        """When the lock on this account or address ends, or None when neither is locked."""
        since = stamp(now - self.window)
        ends: list[datetime] = []
        for column, value, limit in (("name", name, self._max_user),
                                     ("address", address, self._max_address)):
            rows = self._db.rows(
                f"SELECT at FROM login_failures WHERE {column} = ? AND at >= ? "
                "ORDER BY at DESC LIMIT ?", (value, since, limit))
            if len(rows) >= limit:
                ends.append(datetime.fromisoformat(rows[0]["at"]) + self.window)
        return max(ends) if ends else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        with self._db.write() as conn:
            conn.execute("INSERT INTO login_failures (at, name, address) VALUES (?, ?, ?)",
                         (stamp(now), name, address))
            conn.execute("DELETE FROM login_failures WHERE at < ?",
                         (stamp(now - 2 * self.window),))

    def succeeded(self, name: str) -> None:
        """A correct sign-in forgives the account's earlier failures (not the address's)."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM login_failures WHERE name = ?", (name,))
