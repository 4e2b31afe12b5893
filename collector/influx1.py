"""InfluxDB 1.x HTTP API adapter (`/write`, InfluxQL `/query`, `/ping`) — the v1 store.

Also serves InfluxDB 2.x/3.x through their v1 compatibility API. Writes are synchronous so the
collector can acknowledge MQTT messages only after InfluxDB accepted their points.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime

import pandas as pd
import requests

from collector.errors import StoreError
from collector.lineprotocol import MEASUREMENT, reading_lines
from collector.payload import Reading
from collector.settings import InfluxSettings
from rules.frame import PLANT, STATION, STATUS_SUFFIX, TIME, build_frame, empty_frame

# influxd reads one write request on one core: a write of at least this many bytes (~10,000
# points) goes as two requests at once, the second from a helper thread with its own session,
# so influxd can use both cores while the intake parses the next batch (issue 16: 100-record
# arrays from ~170k to ~200k records/s with 40,000-point batches, docs/performance.md).
PARALLEL_WRITE_BYTES = 1_000_000


class InfluxV1Store:
    """Reads and writes the SPEC schema through the InfluxDB v1 HTTP API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._session = self._new_session()
        self._side: tuple[ThreadPoolExecutor, requests.Session] | None = None
        self._side_lock = threading.Lock()

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        settings = self.settings
        if settings.username and settings.password:
            session.auth = (settings.username, settings.password.get_secret_value())
        elif settings.token is not None:
            session.headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        return session

    @property
    def database(self) -> str:
        return self.settings.database

    def ping(self) -> bool:
        try:
            response = self._session.get(f"{self.settings.url}/ping", timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 204

    def ensure_database(self) -> None:
        """Create the database if missing (InfluxDB 1.x; harmless when it exists)."""
        self._query_raw(f'CREATE DATABASE "{_quote_ident(self.database)}"', method="POST")

    def write(self, readings: Sequence[Reading]) -> None:
        self.write_lines(reading_lines(readings))

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write line-protocol texts (a point each, or several on separate lines): one
        request, or two at once from `PARALLEL_WRITE_BYTES` on. Returns once InfluxDB has
        them all; StoreError(retryable=False) when it rejects some (a retryable error wins
        when the other half had one: the caller keeps the whole write for later)."""
        if not lines:
            return
        if len(lines) < 2 or sum(map(len, lines)) < PARALLEL_WRITE_BYTES:
            self._post(self._session, "\n".join(lines).encode("utf-8"))
            return
        middle = len(lines) // 2
        pool, side = self._side_writer()
        second = pool.submit(self._post, side, "\n".join(lines[middle:]).encode("utf-8"))
        errors: list[StoreError] = []
        try:
            self._post(self._session, "\n".join(lines[:middle]).encode("utf-8"))
        except StoreError as exc:
            errors.append(exc)
        finally:
            wait([second])  # the other half is never left running
        failed = second.exception()
        if isinstance(failed, StoreError):
            errors.append(failed)
        elif failed is not None:
            raise failed
        if errors:
            raise next((e for e in errors if e.retryable), errors[0])

    def _side_writer(self) -> tuple[ThreadPoolExecutor, requests.Session]:
        with self._side_lock:
            if self._side is None:
                self._side = (ThreadPoolExecutor(max_workers=1,
                                                 thread_name_prefix="influx-write"),
                              self._new_session())
            return self._side

    def _post(self, session: requests.Session, body: bytes) -> None:
        """One /write request; StoreError(retryable=False) when InfluxDB rejects points."""
        try:
            response = session.post(
                f"{self.settings.url}/write",
                params={"db": self.database, "precision": "ns"},
                data=body,
                timeout=self.settings.timeout_s,
            )
        except requests.RequestException as exc:
            raise StoreError(f"InfluxDB unreachable at {self.settings.url}: {exc}") from exc
        if response.status_code == 204:
            return
        detail = _error_text(response)
        # 401/403 (credentials) and 404 (no database) are set-up problems, not poison points:
        # retryable, so the data waits in the spool instead of being dead-lettered point by point.
        if 400 <= response.status_code < 500 and response.status_code not in (
            401, 403, 404, 408, 429
        ):
            raise StoreError(f"InfluxDB rejected the write: {detail}", retryable=False)
        raise StoreError(f"InfluxDB write failed ({response.status_code}): {detail}")

    def read_frame(self, plant: str, start: datetime, end: datetime) -> pd.DataFrame:
        """The readings frame (docs/architecture.md) of one plant in [start, end)."""
        query = (
            f"SELECT * FROM {MEASUREMENT} WHERE plant = '{_quote_str(plant)}' "
            f"AND time >= '{_rfc3339(start)}' AND time < '{_rfc3339(end)}'"
        )
        rows: list[list[object]] = []
        columns: list[str] = []
        for series in self._series(query):
            columns = series["columns"]
            rows.extend(series.get("values", []))
        return frame_from_rows(columns, rows)

    def record_counts(
        self, plants: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], int]:
        """Records per (plant, station) of `plants` in [start, end), in one query counted by
        the server: a station's records are its most often present field's count (every
        record carries its station's main fields)."""
        query = (
            f"SELECT count(*) FROM {MEASUREMENT} WHERE time >= '{_rfc3339(start)}' "
            f"AND time < '{_rfc3339(end)}' GROUP BY plant, station"
        )
        wanted = set(plants)
        counts: dict[tuple[str, str], int] = {}
        for series in self._series(query):
            tags = series.get("tags") or {}
            key = (str(tags.get(PLANT, "")), str(tags.get(STATION, "")))
            if key[0] not in wanted:
                continue
            values = series.get("values") or [[]]
            counts[key] = max((v for v in values[0][1:] if isinstance(v, int)), default=0)
        return counts

    def count(self, plant: str | None = None) -> int:
        """Number of stored points (tests and the demo summary)."""
        where = f" WHERE plant = '{_quote_str(plant)}'" if plant else ""
        total = 0
        for station in self.stations(plant):
            query = (
                f"SELECT count(*) FROM {MEASUREMENT}{where}"
                f"{' AND' if where else ' WHERE'} station = '{_quote_str(station)}'"
            )
            for series in self._series(query):
                values = series.get("values") or [[]]
                total += max((v for v in values[0][1:] if isinstance(v, int)), default=0)
        return total

    def stations(self, plant: str | None = None) -> list[str]:
        where = f" WHERE plant = '{_quote_str(plant)}'" if plant else ""
        query = f'SHOW TAG VALUES FROM {MEASUREMENT} WITH KEY = "station"{where}'
        return sorted({str(v[1]) for s in self._series(query) for v in s.get("values", [])})

    def close(self) -> None:
        self._session.close()
        with self._side_lock:
            if self._side is not None:
                pool, side = self._side
                pool.shutdown(wait=True)
                side.close()
                self._side = None

    def _series(self, query: str) -> Iterator[dict]:
        for result in self._query_raw(query):
            if "error" in result:
                raise StoreError(f"InfluxDB query failed: {result['error']}", retryable=False)
            yield from result.get("series", [])

    def _query_raw(self, query: str, method: str = "GET") -> list[dict]:
        params = {"q": query, "db": self.database, "epoch": "ns", "chunked": "true",
                  "chunk_size": "20000"}
        try:
            response = self._session.request(
                method, f"{self.settings.url}/query", params=params,
                timeout=self.settings.timeout_s * 6,
            )
        except requests.RequestException as exc:
            raise StoreError(f"InfluxDB unreachable at {self.settings.url}: {exc}") from exc
        if response.status_code != 200:
            raise StoreError(
                f"InfluxDB query failed ({response.status_code}): {_error_text(response)}",
                retryable=response.status_code >= 500,
            )
        results: list[dict] = []
        # Chunked responses are one JSON document per line.
        for line in response.text.splitlines():
            if line.strip():
                results.extend(json.loads(line).get("results", []))
        return results


def frame_from_rows(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """InfluxQL query columns/rows (time in epoch ns) → the readings frame. The `cluster` tag
    is left out: the plant implies it."""
    if not rows:
        return empty_frame()
    table = pd.DataFrame(list(rows), columns=list(columns))
    fields = [str(c) for c in table.columns if c not in (TIME, "cluster", PLANT, STATION)]
    values = {c: table[c] for c in fields if not c.endswith(STATUS_SUFFIX)}
    status = {c.removesuffix(STATUS_SUFFIX): table[c] for c in fields
              if c.endswith(STATUS_SUFFIX)}
    return build_frame(table[TIME].to_numpy(dtype="int64"), table[PLANT], table[STATION],
                       values, status)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise StoreError("query bounds must be timezone-aware", retryable=False)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote_str(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _quote_ident(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:300]
    except ValueError:
        return response.text[:300]
