"""Tests of `collector.influx2.InfluxV2Store` (InfluxDB 2.x through influxdb-client).

No InfluxDB 2.x server is available here (Debian's `influxdb` is 1.x), so these tests run the
real influxdb-client against a LOCAL FAKE SERVER: `http.server` on 127.0.0.1 (a free port)
that replays the documented v2 HTTP API — `POST /api/v2/write` with `org`/`bucket`/`precision`
params and a `Token` Authorization header (204, or the documented JSON error bodies),
`POST /api/v2/query` answering annotated CSV (`#datatype/#group/#default`), and `GET /ping`.
The fake's Flux support is limited to the one query shape the store sends (range + plant
filter + pivot); the query text itself is asserted too. What this proves: the HTTP exchange,
batching, retries, error conversion and frame building. What it does not: a real Flux engine.

`test_live_v2_roundtrip` runs against a real InfluxDB 2.x only when INFLUX_V2_URL,
INFLUX_V2_TOKEN and INFLUX_V2_ORG are set (see docs/deployment.md); it is skipped otherwise.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from collector.errors import StoreError
from collector.influx2 import InfluxV2Store, build_query, resolve_token
from collector.lineprotocol import point_line, reading_lines
from collector.payload import Reading
from collector.settings import InfluxSettings
from collector.store import MemoryStore

TOKEN = "s3cret-token-value"
ORG = "quantrac"
BUCKET = "quantrac"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class FakeInflux2:
    """A tiny in-memory InfluxDB v2 HTTP API: enough of write/query/ping for the store."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.points: dict[tuple[str, ...], dict[str, str]] = {}
        self.failures: list[tuple[int, dict[str, str], dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def fail_next(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.failures.append((status, headers or {}, {"code": "error", "message": message}))

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/api/v2/write"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._record(b"")
                if urlsplit(self.path).path in ("/ping", "/health"):
                    self._send(204, b"", {"X-Influxdb-Version": "v2.7.11"})
                else:
                    self._send_json(404, {"code": "not found", "message": "path not found"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = self._record(body)
                if self.headers.get("Authorization") != f"Token {TOKEN}":
                    self._send_json(401, {"code": "unauthorized", "message": "unauthorized access"})
                    return
                with fake.lock:
                    failure = fake.failures.pop(0) if fake.failures else None
                if failure is not None:
                    self._send_json(failure[0], failure[2], failure[1])
                    return
                if req["path"] == "/api/v2/write":
                    self._write(req, body.decode())
                elif req["path"] == "/api/v2/query":
                    self._query(req, json.loads(body))
                else:
                    self._send_json(404, {"code": "not found", "message": "path not found"})

            def _record(self, body: bytes) -> dict[str, Any]:
                parts = urlsplit(self.path)
                req = {
                    "method": self.command,
                    "path": parts.path,
                    "params": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                with fake.lock:
                    fake.requests.append(req)
                return req

            def _write(self, req: dict[str, Any], text: str) -> None:
                params = req["params"]
                if params.get("org") != ORG:
                    msg = f'organization name "{params.get("org")}" not found'
                    self._send_json(404, {"code": "not found", "message": msg})
                    return
                if params.get("bucket") != BUCKET:
                    msg = f'bucket "{params.get("bucket")}" not found'
                    self._send_json(404, {"code": "not found", "message": msg})
                    return
                if params.get("precision") != "ns":
                    self._send_json(400, {"code": "invalid", "message": "precision must be ns"})
                    return
                with fake.lock:
                    for line in filter(None, text.split("\n")):
                        series, fields, ns = line.split(" ")
                        measurement, *tags = series.split(",")
                        key = (measurement, *sorted(tags), ns)
                        point = fake.points.setdefault(key, {})
                        point.update(f.split("=", 1) for f in fields.split(","))
                self._send(204, b"")

            def _query(self, req: dict[str, Any], doc: dict[str, Any]) -> None:
                flux = doc["query"]
                bucket = re.search(r'from\(bucket: "([^"]*)"\)', flux)
                span = re.search(r"range\(start: (\S+), stop: (\S+)\)", flux)
                plant = re.search(r'r\.plant == "([^"]*)"', flux)
                if not (bucket and span and plant and "pivot(" in flux):
                    self._send_json(400, {"code": "invalid", "message": "compilation failed"})
                    return
                if bucket.group(1) != BUCKET:
                    msg = (
                        f'failed to initialize execute state: bucket "{bucket.group(1)}" not found'
                    )
                    self._send_json(404, {"code": "not found", "message": msg})
                    return
                start = _ns(span.group(1))
                stop = _ns(span.group(2))
                self._send(
                    200,
                    _annotated_csv(fake, plant.group(1), start, stop).encode(),
                    {"Content-Type": "text/csv; charset=utf-8"},
                )

            def _send_json(
                self, status: int, doc: dict[str, str], headers: dict[str, str] | None = None
            ) -> None:
                body = json.dumps(doc).encode()
                self._send(status, body, {"Content-Type": "application/json", **(headers or {})})

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _ns(rfc3339: str) -> int:
    when = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _annotated_csv(fake: FakeInflux2, plant: str, start: int, stop: int) -> str:
    """What InfluxDB 2.x answers for the store's pivot query: one table, no group key."""
    rows = []
    with fake.lock:
        for (measurement, *tags, ns), fields in fake.points.items():
            tag = dict(t.split("=", 1) for t in tags)
            if measurement == "reading" and tag["plant"] == plant and start <= int(ns) < stop:
                rows.append((int(ns), tag, fields))
    if not rows:
        return "\r\n"
    rows.sort(key=lambda r: (r[0], r[1]["station"]))
    fields = sorted({name for _, _, f in rows for name in f})
    types = [
        "long" if rows_value.endswith("i") else "double"
        for name in fields
        for rows_value in [next(f[name] for _, _, f in rows if name in f)]
    ]
    header = ["result", "table", "_time", "cluster", "plant", "station", *fields]
    lines = [
        ",".join(
            [
                "#datatype",
                "string",
                "long",
                "dateTime:RFC3339",
                "string",
                "string",
                "string",
                *types,
            ]
        ),
        ",".join(["#group"] + ["false"] * len(header)),
        ",".join(["#default", "_result"] + [""] * (len(header) - 1)),
        "," + ",".join(header),
    ]
    for ns, tag, values in rows:
        when = datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cells = [values.get(name, "").removesuffix("i") for name in fields]
        lines.append(
            ",".join(["", "", "0", when, tag["cluster"], tag["plant"], tag["station"], *cells])
        )
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.fixture
def fake() -> Iterator[FakeInflux2]:
    server = FakeInflux2()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


class Clock:
    """Records the back-off sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_store(url: str, clock: Clock | None = None, **overrides: Any) -> InfluxV2Store:
    fields: dict[str, Any] = {"org": ORG, "bucket": BUCKET, "timeout_s": 2.0, **overrides}
    settings = InfluxSettings(api="v2", url=url, **fields)
    return InfluxV2Store(settings, environ={"QUANTRAC_INFLUX_TOKEN": TOKEN}, sleep=clock or Clock())


def reading(station: str, minutes: int, plant: str = "kim-bai", **values: float) -> Reading:
    return Reading("kim-bai", plant, station, T0 + timedelta(minutes=minutes), values)


def test_write_posts_line_protocol_with_token_org_bucket_and_ns_precision(
    fake: FakeInflux2,
) -> None:
    readings = [
        reading("outlet", 0, cod=45.2, ph=7.1),
        reading("inlet", 0, flow_in=60),
        Reading(
            "kim-bai", "kim-bai", "outlet", T0 + timedelta(minutes=5), {"cod": 50.0}, {"cod": 1}
        ),
    ]
    with make_store(fake.url) as store:
        store.write(readings)
    (req,) = fake.writes()
    assert req["params"] == {"org": ORG, "bucket": BUCKET, "precision": "ns"}
    assert req["headers"]["Authorization"] == f"Token {TOKEN}"
    assert req["body"].decode().split("\n") == reading_lines(readings)


def test_write_splits_into_batch_size_requests(fake: FakeInflux2) -> None:
    readings = [reading("outlet", m, cod=float(m)) for m in range(5)]
    with make_store(fake.url, batch_size=2) as store:
        store.write(readings)
    sizes = [len(r["body"].decode().split("\n")) for r in fake.writes()]
    assert sizes == [2, 2, 1]
    assert len(fake.points) == 5


def test_write_lines_passes_alert_points_through(fake: FakeInflux2) -> None:
    line = point_line(
        "alert",
        {"cluster": "kim-bai", "plant": "kim-bai", "kind": "exceedance"},
        {"state": "open", "value": 151.2, "id": 7},
        1_700_000_000_000_000_000,
    )
    with make_store(fake.url) as store:
        store.write_lines([line])
    assert fake.writes()[0]["body"].decode() == line


def test_transient_failures_are_retried_with_backoff_and_retry_after(fake: FakeInflux2) -> None:
    fake.fail_next(503, "service unavailable")
    fake.fail_next(429, "too many requests", {"Retry-After": "2"})
    clock = Clock()
    with make_store(fake.url, clock) as store:
        store.write([reading("outlet", 0, cod=1.0)])
    assert len(fake.writes()) == 3
    assert clock.sleeps == [0.5, 2.0]
    assert len(fake.points) == 1


@pytest.mark.parametrize(
    ("status", "retryable", "requests"),
    [
        (400, False, 1),  # malformed line protocol: retrying cannot help
        (403, False, 1),
        (413, False, 1),
        (422, False, 1),  # outside the bucket's retention
        (500, True, 3),
        (503, True, 3),
    ],
)
def test_error_statuses_become_store_errors(
    fake: FakeInflux2, status: int, retryable: bool, requests: int
) -> None:
    for _ in range(3):
        fake.fail_next(status, f"server says {status}")
    with make_store(fake.url) as store, pytest.raises(StoreError) as caught:
        store.write([reading("outlet", 0, cod=1.0)])
    assert caught.value.retryable is retryable
    assert f"({status})" in str(caught.value) and f"server says {status}" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(fake.writes()) == requests


def test_wrong_token_and_unknown_bucket_are_not_retryable(fake: FakeInflux2) -> None:
    settings = InfluxSettings(api="v2", url=fake.url, org=ORG, bucket=BUCKET)
    bad = InfluxV2Store(settings, environ={"QUANTRAC_INFLUX_TOKEN": "wrong"}, sleep=Clock())
    with bad, pytest.raises(StoreError, match=r"\(401\).*unauthorized") as caught:
        bad.write([reading("outlet", 0, cod=1.0)])
    assert caught.value.retryable is False
    with make_store(fake.url, bucket="nope") as store, pytest.raises(StoreError) as caught:
        store.write([reading("outlet", 0, cod=1.0)])
    assert caught.value.retryable is False and 'bucket "nope" not found' in str(caught.value)


def free_closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_retryable_and_ping_false() -> None:
    clock = Clock()
    settings = InfluxSettings(
        api="v2",
        url=f"http://127.0.0.1:{free_closed_port()}",
        org=ORG,
        bucket=BUCKET,
        timeout_s=1.0,
    )
    store = InfluxV2Store(
        settings, environ={"QUANTRAC_INFLUX_TOKEN": TOKEN}, attempts=2, sleep=clock
    )
    with store:
        with pytest.raises(StoreError) as caught:
            store.write([reading("outlet", 0, cod=1.0)])
        assert store.ping() is False
    assert caught.value.retryable is True
    assert clock.sleeps == [0.5]


def test_ping_true_against_server(fake: FakeInflux2) -> None:
    with make_store(fake.url) as store:
        assert store.ping() is True
    assert fake.requests[-1]["path"] == "/ping"


def test_read_frame_returns_the_readings_frame(fake: FakeInflux2) -> None:
    readings = [
        reading("outlet", 5, cod=50.0, ph=7.0),
        Reading("kim-bai", "kim-bai", "outlet", T0, {"cod": 45.0, "ph": 7.2}, {"cod": 2}),
        reading("inlet", 0, flow_in=60.5),
        reading("outlet", 60, cod=99.0),  # at `end`: excluded (half-open window)
        reading("outlet", 0, plant="other", cod=1.0),  # another plant
    ]
    with make_store(fake.url) as store:
        store.write(readings)
        frame = store.read_frame("kim-bai", T0, T0 + timedelta(hours=1))
    (query,) = [r for r in fake.requests if r["path"] == "/api/v2/query"]
    assert query["params"] == {"org": ORG}
    sent = json.loads(query["body"])
    assert sent["query"] == build_query(BUCKET, "kim-bai", T0, T0 + timedelta(hours=1))
    assert {"datatype", "group", "default"} <= set(sent["dialect"]["annotations"])

    assert list(frame.columns) == [
        "time",
        "plant",
        "station",
        "cod",
        "flow_in",
        "ph",
        "cod_status",
        "flow_in_status",
        "ph_status",
    ]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    for key in ("cod", "flow_in", "ph"):
        assert frame[key].dtype == "float64" and frame[f"{key}_status"].dtype == "int64"
    assert frame["time"].is_monotonic_increasing
    rows = [
        (r.time.to_pydatetime(), r.station, r.cod, r.flow_in, r.cod_status)
        for r in frame.itertuples()
    ]
    assert rows[0][:2] == (T0, "inlet") and rows[0][3] == 60.5 and math.isnan(rows[0][2])
    assert rows[1] == (T0, "outlet", 45.0, rows[1][3], 2) and math.isnan(rows[1][3])
    assert rows[2][:3] == (T0 + timedelta(minutes=5), "outlet", 50.0) and rows[2][4] == 0
    assert len(rows) == 3
    assert set(frame["plant"]) == {"kim-bai"}
    # The same frame as every other source gives for these readings.
    expected = MemoryStore(readings).read_frame("kim-bai", T0, T0 + timedelta(hours=1))
    pd.testing.assert_frame_equal(frame, expected)


def test_record_counts_per_station_from_each_plants_frame(fake: FakeInflux2) -> None:
    readings = [reading("outlet", 0, cod=50.0), reading("outlet", 5, cod=51.0),
                reading("inlet", 0, flow_in=60.5), reading("outlet", 0, plant="other", cod=1.0)]
    with make_store(fake.url) as store:
        store.write(readings)
        counts = store.record_counts(["kim-bai"], T0, T0 + timedelta(hours=1))
    assert counts == {("kim-bai", "outlet"): 2, ("kim-bai", "inlet"): 1}
    assert counts == MemoryStore(readings).record_counts(["kim-bai"], T0,
                                                         T0 + timedelta(hours=1))


def test_read_frame_empty_window_has_the_frame_columns(fake: FakeInflux2) -> None:
    with make_store(fake.url) as store:
        frame = store.read_frame("kim-bai", T0, T0 + timedelta(hours=1))
    assert list(frame.columns) == ["time", "plant", "station"] and len(frame) == 0
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"


def test_read_frame_errors(fake: FakeInflux2) -> None:
    with make_store(fake.url, bucket="gone") as store, pytest.raises(StoreError) as caught:
        store.read_frame("kim-bai", T0, T0 + timedelta(hours=1))
    assert caught.value.retryable is False and "(404)" in str(caught.value)
    with make_store(fake.url) as store:
        with pytest.raises(StoreError, match="bad plant id"):
            store.read_frame('x") or true', T0, T0 + timedelta(hours=1))
        with pytest.raises(StoreError, match="timezone-aware"):
            store.read_frame("kim-bai", datetime(2026, 1, 1), T0)


def test_build_query_quotes_the_bucket_and_uses_utc() -> None:
    start = datetime(2026, 11, 22, 17, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    query = build_query('we"ird${x}', "kim-bai", start, start + timedelta(days=1))
    assert 'from(bucket: "we\\"ird\\${x}")' in query
    assert "range(start: 2026-11-22T17:00:00.000000Z, stop: 2026-11-23T17:00:00.000000Z)" in query
    assert 'r.plant == "kim-bai"' in query and 'columnKey: ["_field"]' in query


@pytest.mark.parametrize(
    ("env", "token", "file_text", "expected"),
    [
        ({"QUANTRAC_INFLUX_TOKEN": "from-env"}, "from-config", "from-file", "from-env"),
        ({}, "from-config", "from-file", "from-config"),
        ({}, None, "from-file\n", "from-file"),
        ({"QUANTRAC_INFLUX_TOKEN": "  "}, None, "from-file", "from-file"),
    ],
)
def test_token_resolution_order(
    tmp_path: Path, env: dict[str, str], token: str | None, file_text: str, expected: str
) -> None:
    path = tmp_path / "token"
    path.write_text(file_text)
    settings = InfluxSettings(api="v2", org=ORG, bucket=BUCKET, token=token, token_file=path)
    assert resolve_token(settings, env) == expected


def test_missing_token_org_or_bucket_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="QUANTRAC_INFLUX_TOKEN") as caught:
        resolve_token(InfluxSettings(api="v2", org=ORG, bucket=BUCKET), {})
    assert caught.value.retryable is False
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(StoreError, match="is empty"):
        resolve_token(InfluxSettings(api="v2", token_file=empty), {})
    with pytest.raises(StoreError, match="cannot read"):
        resolve_token(InfluxSettings(api="v2", token_file=tmp_path / "absent"), {})
    with pytest.raises(StoreError, match="org and bucket"):
        InfluxV2Store(
            InfluxSettings(api="v2", bucket=BUCKET), environ={"QUANTRAC_INFLUX_TOKEN": "x"}
        )


LIVE = all(os.environ.get(name) for name in ("INFLUX_V2_URL", "INFLUX_V2_TOKEN", "INFLUX_V2_ORG"))


@pytest.mark.skipif(not LIVE, reason="set INFLUX_V2_URL, INFLUX_V2_TOKEN, INFLUX_V2_ORG to run")
def test_live_v2_roundtrip() -> None:
    """Against a real InfluxDB 2.x: a throw-away bucket (1 h retention), write, read, delete."""
    from influxdb_client import BucketRetentionRules, InfluxDBClient

    url, token, org = (os.environ[n] for n in ("INFLUX_V2_URL", "INFLUX_V2_TOKEN", "INFLUX_V2_ORG"))
    name = f"quantrac-test-{uuid.uuid4().hex[:8]}"
    with InfluxDBClient(url=url, token=token, org=org) as admin:
        bucket = admin.buckets_api().create_bucket(
            bucket_name=name,
            org=org,
            retention_rules=BucketRetentionRules(type="expire", every_seconds=3600),
        )
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            readings = [
                Reading(
                    "kim-bai",
                    "kim-bai",
                    "outlet",
                    now - timedelta(minutes=10),
                    {"cod": 45.0, "ph": 7.1},
                    {"cod": 1},
                ),
                Reading(
                    "kim-bai", "kim-bai", "inlet", now - timedelta(minutes=5), {"flow_in": 61.5}
                ),
            ]
            settings = InfluxSettings(api="v2", url=url, org=org, bucket=name)
            with InfluxV2Store(settings, environ={"QUANTRAC_INFLUX_TOKEN": token}) as store:
                assert store.ping()
                store.write(readings)
                store.write(readings[:1])  # a redelivery overwrites itself
                frame = store.read_frame("kim-bai", now - timedelta(hours=1), now)
            assert list(frame["station"]) == ["outlet", "inlet"]
            assert frame.loc[0, "cod"] == 45.0 and frame.loc[0, "cod_status"] == 1
            assert math.isnan(frame.loc[1, "cod"]) and frame.loc[1, "flow_in"] == 61.5
        finally:
            admin.buckets_api().delete_bucket(bucket)
