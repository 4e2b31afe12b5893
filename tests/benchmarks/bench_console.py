"""The console at scale: its pages read what the scheduled checks keep, never raw readings.

Run: `.venv/bin/python tests/benchmarks/bench_console.py [--plants 500] [--days 30]`.
Builds `--plants` plants (clusters of 10) with `--days` of 5-minute readings ending now, stored
twice as the collector would: the raw readings in the private influxd (line protocol through
the store's /write) and what the scheduled checks keep in the check book (`rules.summary`
hour results and volumes of the days, through `CheckBook.keep_results`, and the last values);
one plant in seven runs over its COD limit for a fifth of its hours, one in ten has an open
alert. Then serves the console (`quantrac.web.build_console`, uvicorn on loopback) and times,
signed in as an admin who sees every plant:
- the overview, a plant page and a public 30-day page (response time over loopback, p50/p95,
  pages of random plants), the series API for 7 days (check book) and 24 h (raw readings);
- 50 concurrent anonymous clients on public pages (errors, p95, requests/s);
and, as the baseline in the same run, the same numbers computed naively from InfluxDB: the
overview's month-to-date hourly means of every plant (one InfluxQL query grouped by plant and
hour), and a public page from one plant's 30 days of raw readings (read, hourly means of valid
readings in pandas). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pandas as pd
from common import emit, short_id

from alerts.manager import AlertManager
from collector.checkbook import CheckBook, KeptResults
from collector.influx1 import InfluxV1Store
from collector.settings import InfluxSettings
from console.accounts import Accounts
from console.database import Database
from console.server import BackgroundServer
from quantrac.config import Config, parse_config
from quantrac.stack import LocalStack
from quantrac.web import build_console
from rules.findings import Finding
from rules.frame import build_frame, status_column
from rules.permit import Plant
from rules.summary import LatestValue, hourly_results

STEP_S = 300
OUTLET = ("cod", "flow_out", "nh4_n", "ph", "temperature", "tss")
TARGETS_MS = {"overview": 300, "plant": 500, "public": 200}
PASSWORD = "bench-admin-pass"


def config_for(stack: LocalStack, database: str, state: Path, plants: int) -> Config:
    docs = [{
        "id": f"p{i:03d}", "cluster": f"c{i // 10:02d}", "name": f"Trạm XLNT {i:03d}",
        "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
        "interval": "5m",
        "stations": {"inlet": ["flow_in"], "outlet": list(OUTLET)},
    } for i in range(plants)]
    return parse_config({
        "mqtt": {"url": stack.mqtt_url}, "influx": {"url": stack.influx_url,
                                                    "database": database},
        "state": {"dir": str(state)}, "plants": docs,
        "alerts": {"channels": {"terminal": {"type": "terminal"}}},
    })


def readings(plant: Plant, index: int, start: datetime, steps: int, rng: np.random.Generator
             ) -> tuple[pd.DataFrame, list[str]]:
    """One plant's readings frame and the same readings as line protocol."""
    t = np.arange(steps, dtype=np.int64) * STEP_S + int(start.timestamp())
    day = np.sin(2 * np.pi * (t % 86400) / 86400)
    noise = rng.normal(size=(7, steps))
    values = {
        "cod": 48 + 8 * day + 4 * noise[0], "flow_out": 60 + 25 * day + 2 * noise[1],
        "nh4_n": 2.5 + 0.4 * noise[2], "ph": 7.2 + 0.15 * noise[3],
        "temperature": 29 + 2 * day + 0.3 * noise[4], "tss": 20 + 3 * noise[5],
    }
    if index % 7 == 0:  # a plant over its COD limit for a fifth of the hours
        hours = (t // 3600) % 5 == 0
        values["cod"] = np.where(hours, 175 + 10 * noise[0], values["cod"])
    flow_in = 62 + 25 * day + 2 * noise[6]
    status = np.where(rng.random(steps) < 0.01, 1, 0)  # calibration: 1 % of COD readings
    ns = t * 1_000_000_000
    ids, outlets, inlets = [plant.id] * steps, ["outlet"] * steps, ["inlet"] * steps
    outlet = build_frame(ns, ids, outlets, values, {"cod": status})
    inlet = build_frame(ns, ids, inlets, {"flow_in": flow_in})
    frame = pd.concat([inlet, outlet]).sort_values(["time", "station"], kind="stable")
    tags = f"reading,cluster={plant.cluster},plant={plant.id}"
    lines = []
    for i in range(steps):
        fields = ",".join(f"{k}={values[k][i]:.3f}" for k in OUTLET)
        extra = f",cod_status={status[i]}i" if status[i] else ""
        lines.append(f"{tags},station=outlet {fields}{extra} {ns[i]}")
        lines.append(f"{tags},station=inlet flow_in={flow_in[i]:.3f} {ns[i]}")
    return frame, lines


def latest_of(plant: Plant, frame: pd.DataFrame) -> list[LatestValue]:
    last = frame.iloc[-2:]
    out = []
    for _, row in last.iterrows():
        moment = row["time"].to_pydatetime()
        for key in plant.stations[row["station"]]:
            valid = row[status_column(key)] == 0
            out.append(LatestValue(plant.id, row["station"], key,
                                   float(row[key]) if valid else None,
                                   moment if valid else None, int(row[status_column(key)]),
                                   moment))
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "n": len(ordered)}


def timed(client: httpx2.Client, paths: list[str]) -> dict[str, float]:
    samples = []
    for path in paths:
        began = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return percentiles(samples)


async def crowd(url: str, paths: list[str], clients: int, each: int) -> dict[str, Any]:
    """`clients` anonymous clients, each loading `each` public pages one after another."""
    errors = 0
    samples: list[float] = []

    async def one(seed: int) -> None:
        nonlocal errors
        pick = random.Random(seed)
        async with httpx2.AsyncClient(base_url=url, timeout=60) as client:
            for _ in range(each):
                began = time.perf_counter()
                try:
                    response = await client.get(pick.choice(paths))
                    if response.status_code != 200:
                        errors += 1
                except httpx2.HTTPError:
                    errors += 1
                samples.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    seconds = time.perf_counter() - began
    return {"clients": clients, "requests": clients * each, "errors": errors,
            "requests_per_s": round(clients * each / seconds, 1), **percentiles(samples)}


def naive_overview(influx: str, database: str, start: datetime, now: datetime) -> float:
    """Every plant's hourly means and counts of the month so far, from the raw readings:
    what an overview without the check book must ask InfluxDB for each time (InfluxQL over
    the v1 HTTP API, the answer parsed)."""
    fields = ", ".join(f"mean({k}), count({k})" for k in OUTLET)
    query = (f"SELECT {fields} FROM reading WHERE station = 'outlet' AND "
             f"time >= '{start.isoformat()}' AND time < '{now.isoformat()}' "
             "GROUP BY time(1h), plant")
    began = time.perf_counter()
    answer = httpx2.get(f"{influx}/query", params={"db": database, "q": query}, timeout=600)
    answer.raise_for_status()
    series = answer.json()["results"][0].get("series", [])
    assert series, "the naive query found no readings"
    return time.perf_counter() - began


def naive_public(store: InfluxV1Store, plant: Plant, start: datetime, now: datetime) -> float:
    """One plant's public page from raw readings: 30 days read, hourly means of valid ones."""
    began = time.perf_counter()
    frame = store.read_frame(plant.id, start, now)
    outlet = frame[frame["station"] == "outlet"].set_index("time")
    means = {k: outlet[k].where(outlet[status_column(k)] == 0).resample("1h").mean()
             for k in OUTLET}
    pd.DataFrame(means)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plants", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=40, help="requests per page kind")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--naive-plants", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    start = now - timedelta(days=args.days)
    steps = args.days * 86400 // STEP_S
    result: dict[str, Any] = {"benchmark": "console", "plants": args.plants, "days": args.days,
                              "interval": "5m", "targets_p95_ms": TARGETS_MS}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        database = short_id()
        stack.create_database(database)
        config = config_for(stack, database, Path(tmp) / "state", args.plants)
        store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=database))
        book = CheckBook(config.state.dir)
        timing = {"rules_s": 0.0, "check_book_s": 0.0, "influx_write_s": 0.0}
        points = 0
        for index, plant in enumerate(config.plants):
            frame, lines = readings(plant, index, start, steps, rng)
            began = time.perf_counter()
            hours, volumes = hourly_results(frame, plant, config.checks, start, now)
            timing["rules_s"] += time.perf_counter() - began
            began = time.perf_counter()
            book.keep_results(plant.id, start, now, KeptResults(plant.zone, hours, volumes))
            book.keep_latest(latest_of(plant, frame))
            timing["check_book_s"] += time.perf_counter() - began
            began = time.perf_counter()
            for i in range(0, len(lines), 20000):
                store.write_lines(lines[i:i + 20000])
            timing["influx_write_s"] += time.perf_counter() - began
            points += len(lines)
        book.close()
        result["setup"] = {**{k: round(v, 1) for k, v in timing.items()},
                           "raw_points": points,
                           "check_book_mb": round((config.state.dir / "checks.sqlite")
                                                  .stat().st_size / 1e6, 1)}
        alerts = AlertManager(config.alerts, list(config.plants), config.state.dir)
        alerts.observe([Finding(p.id, "outlet", "cod", "exceedance", "instantaneous", now, now,
                                180.0, 135.0, 180 / 135, "minor")
                        for p in config.plants[::10]], [], now)
        alerts.close()
        Accounts(Database(config.state.dir)).add("admin", "admin", PASSWORD, now)
        app, backend = build_console(config)
        server = BackgroundServer(app).start()
        try:
            pick = random.Random(3)
            ids = [p.id for p in config.plants]
            with httpx2.Client(base_url=server.url, timeout=60) as client:
                page = client.get("/login")
                token = re.search(r'name="csrf-token" content="([^"]*)"', page.text)
                assert token is not None
                client.post("/login", data={"username": "admin", "password": PASSWORD,
                                            "csrf_token": token.group(1)})
                client.get("/")  # warm templates
                n = args.requests
                week = (now - timedelta(days=7)).isoformat()
                result["console"] = {
                    "overview": timed(client, ["/"] * n),
                    "plant": timed(client, [f"/plants/{pick.choice(ids)}" for _ in range(n)]),
                    "public": timed(client, [f"/public/{pick.choice(ids)}" for _ in range(n)]),
                    "series_7d": timed(client, [
                        f"/api/v1/plants/{pick.choice(ids)}/series?parameter=cod&from={week}"
                        .replace("+", "%2B") for _ in range(n)]),
                    "series_24h": timed(client, [
                        f"/api/v1/plants/{pick.choice(ids)}/series?parameter=cod"
                        for _ in range(n)]),
                }
            result["concurrent_public"] = asyncio.run(crowd(
                server.url, [f"/public/{i}" for i in ids], args.clients, args.per_client))
        finally:
            server.stop()
            backend.close()
        month = now.replace(day=1, hour=0, minute=0)
        overview_naive = [naive_overview(stack.influx_url, database, max(month, start), now)
                          for _ in range(3)]
        sample = pick.sample(list(config.plants), min(args.naive_plants, len(config.plants)))
        public_naive = [naive_public(store, p, now - timedelta(days=30), now) for p in sample]
        store.close()
    result["naive_influxdb"] = {
        "overview_month_hourly_all_plants": percentiles(overview_naive),
        "public_30d_one_plant": percentiles(public_naive),
    }
    pages = result["console"]
    result["ok"] = (all(pages[k]["p95_ms"] < v for k, v in TARGETS_MS.items())
                    and result["concurrent_public"]["errors"] == 0)
    result["speedup_vs_naive"] = {
        "overview": round(result["naive_influxdb"]["overview_month_hourly_all_plants"]
                          ["p50_ms"] / pages["overview"]["p50_ms"], 1),
        "public": round(result["naive_influxdb"]["public_30d_one_plant"]["p50_ms"]
                        / pages["public"]["p50_ms"], 1),
    }
    emit(result)


if __name__ == "__main__":
    main()
