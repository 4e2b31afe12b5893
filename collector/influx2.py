"""InfluxDB 2.x / Cloud store through influxdb-client (org, bucket, token).

Same interface as the v1 store in `collector.influx1` and the same points, because both take
their line protocol from `collector.lineprotocol`. Writes are synchronous (the collector acks
MQTT only after a durable write) and split into `batch_size` requests, each retried a few
times on transient failures; a redelivered point overwrites itself, so a retry is harmless.
This is the only module that imports influxdb-client.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import urllib3.exceptions
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.flux_csv_parser import FluxQueryException
from influxdb_client.client.write_api import SYNCHRONOUS

from collector.errors import StoreError
from collector.lineprotocol import MEASUREMENT, reading_lines
from collector.payload import Reading
from collector.settings import InfluxSettings
from rules.frame import STATUS_SUFFIX, build_frame
from rules.topics import ID_PATTERN

TOKEN_ENV = "QUANTRAC_INFLUX_TOKEN"
# Status codes after which the same request may succeed later (overload, restarts).
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Columns of the pivoted Flux table that are not parameter fields.
_META_COLUMNS = frozenset(
    {"result", "table", "_time", "_start", "_stop", "_measurement", "cluster", "plant", "station"}
)


def resolve_token(settings: InfluxSettings, environ: Mapping[str, str] | None = None) -> str:
    """The API token: `QUANTRAC_INFLUX_TOKEN` wins, then `[influx] token`, then `token_file`."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV, "").strip():
        return env[TOKEN_ENV].strip()
    if settings.token is not None and settings.token.get_secret_value().strip():
        return settings.token.get_secret_value().strip()
    if settings.token_file is not None:
        try:
            token = Path(settings.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StoreError(
                f"cannot read influx token_file {settings.token_file}: {exc.strerror}",
                retryable=False,
            ) from exc
        if token:
            return token
        raise StoreError(f"influx token_file {settings.token_file} is empty", retryable=False)
    raise StoreError(
        f"influx api v2 needs a token: set {TOKEN_ENV} or [influx] token_file", retryable=False
    )


def build_query(bucket: str, plant: str, start: datetime, end: datetime) -> str:
    """The Flux query for one plant's readings in [start, end), one row per station and time."""
    return (
        f"from(bucket: {_flux_string(bucket)})\n"
        f"  |> range(start: {_flux_time(start)}, stop: {_flux_time(end)})\n"
        f'  |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r.plant == '
        f"{_flux_string(plant)})\n"
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        '  |> drop(columns: ["_start", "_stop", "_measurement"])\n'
        "  |> group()\n"
        '  |> sort(columns: ["_time", "station"])\n'
    )


class InfluxV2Store:
    """A `Store` over the InfluxDB v2 HTTP API (`/api/v2/write`, Flux `/api/v2/query`)."""

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        environ: Mapping[str, str] | None = None,
        attempts: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.org or not settings.bucket:
            raise StoreError("influx api v2 needs [influx] org and bucket", retryable=False)
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self._org = settings.org
        self._bucket = settings.bucket
        self._batch_size = settings.batch_size
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._client = InfluxDBClient(
            url=settings.url,
            token=resolve_token(settings, environ),
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()

    def write(self, readings: Sequence[Reading]) -> None:
        """Store readings durably (returns only once InfluxDB acknowledged every point)."""
        self.write_lines(reading_lines(readings))

    def write_lines(self, lines: Sequence[str]) -> None:
        """Store raw line-protocol points (ns precision) in `batch_size` requests (texts of
        several points are split into them first)."""
        if any("\n" in text for text in lines):
            lines = "\n".join(lines).split("\n")
        for first in range(0, len(lines), self._batch_size):
            self._write_batch("\n".join(lines[first : first + self._batch_size]))

    def read_frame(self, plant: str, start: datetime, end: datetime) -> pd.DataFrame:
        """The readings frame (docs/architecture.md) of one plant for [start, end)."""
        if not ID_PATTERN.fullmatch(plant):
            raise StoreError(f"bad plant id {plant!r}", retryable=False)
        query = build_query(self._bucket, plant, start, end)
        try:
            rows = [record.values for record in self._query_api.query_stream(query, org=self._org)]
        except FluxQueryException as exc:
            raise StoreError(f"influxdb v2 query failed: {exc.message}", retryable=False) from exc
        except Exception as exc:
            raise _store_error("query", exc) from exc
        return _readings_frame(rows)

    def record_counts(
        self, plants: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], int]:
        """Records per (plant, station) of `plants` in [start, end), from each plant's frame
        (a v2 deployment is small; the v1 store counts on the server)."""
        counts: dict[tuple[str, str], int] = {}
        for plant in plants:
            frame = self.read_frame(plant, start, end)
            for station, n in frame.groupby("station").size().items():
                counts[(plant, str(station))] = int(n)
        return counts

    def ping(self) -> bool:
        """True when the server answers `/ping` (unauthenticated: says nothing of the token)."""
        return bool(self._client.ping())

    def close(self) -> None:
        self._write_api.close()
        self._client.close()

    def __enter__(self) -> InfluxV2Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_batch(self, body: str) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                self._write_api.write(
                    bucket=self._bucket,
                    org=self._org,
                    record=body,
                    # the client types its str constants as the class itself
                    write_precision=WritePrecision.NS,  # type: ignore[arg-type]
                )
                return
            except Exception as exc:
                error = _store_error("write", exc)
                if not error.retryable or attempt == self._attempts:
                    raise error from exc
                self._sleep(self._delay(attempt, exc))

    def _delay(self, attempt: int, exc: Exception) -> float:
        """Exponential backoff, or the server's Retry-After when it gives one (both capped)."""
        delay = self._backoff_s * 2 ** (attempt - 1)
        retry_after = _retry_after_s(getattr(exc, "retry_after", None))
        if retry_after is not None:
            delay = retry_after
        return min(delay, self._max_backoff_s)


def _store_error(action: str, exc: Exception) -> StoreError:
    """Turn an influxdb-client / urllib3 exception into a `StoreError` (never the token)."""
    if isinstance(exc, InfluxDBError) and exc.response is not None:
        status = int(getattr(exc.response, "status", 0) or 0)
        message = exc.message.decode() if isinstance(exc.message, bytes) else str(exc.message)
        return StoreError(
            f"influxdb v2 {action} refused ({status}): {message[:300]}",
            retryable=status in _RETRYABLE_STATUS or status == 0,
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | InfluxDBError):
        return StoreError(f"influxdb v2 {action} failed: {type(exc).__name__}: {exc}")
    return StoreError(f"influxdb v2 {action} failed unexpectedly: {type(exc).__name__}: {exc}")


def _retry_after_s(value: object) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent/bad."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _flux_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def _flux_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise StoreError("read_frame needs timezone-aware start/end", retryable=False)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _readings_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Pivoted Flux rows -> the readings frame: a float column and an int status per key."""
    rows = list(rows)
    fields: set[str] = set()
    for row in rows:
        fields.update(column for column in row if column not in _META_COLUMNS)
    values = {key: np.array([_float_or_nan(row.get(key)) for row in rows], dtype=np.float64)
              for key in fields if not key.endswith(STATUS_SUFFIX)}
    status = {key.removesuffix(STATUS_SUFFIX): np.array([int(row.get(key) or 0) for row in rows],
                                                        dtype=np.int64)
              for key in fields if key.endswith(STATUS_SUFFIX)}
    return build_frame([row["_time"] for row in rows], [str(row["plant"]) for row in rows],
                       [str(row["station"]) for row in rows], values, status)


def _float_or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)
