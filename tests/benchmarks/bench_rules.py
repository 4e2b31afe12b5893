"""Benchmark of the rules engine: one month of 1-minute data for 100 plants × 8 parameters.

Run as `python tests/benchmarks/bench_rules.py` (not collected by pytest). Prints one JSON
line: total and per-plant evaluation time, rows/s, and baselines measured in the same run
(one plant-day, one inline batch) so the ratios mean something on any machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rules.evaluate import evaluate
from rules.limits import plant_limits
from rules.permit import Plant
from rules.settings import CheckSettings
from tests.rules.inline_reference import instantaneous_findings

PLANTS = 100
START = datetime(2026, 9, 30, 17, tzinfo=UTC)  # 2026-10-01 00:00 in Hanoi
DAYS = 31
OUTLET = ("flow_out", "temperature", "ph", "tss", "cod", "nh4_n")


def make_plant(i: int) -> Plant:
    return Plant(
        id=f"plant-{i:03d}", cluster="bench", name=f"Bench {i}", design_flow_m3_day=1500,
        kq=0.9, interval="1m",
        stations={"inlet": ["flow_in"], "outlet": list(OUTLET), "bypass": ["flow_bypass"]},
    )


def make_frame(plant: Plant, rng: np.random.Generator, days: int = DAYS) -> pd.DataFrame:
    """Synthetic 1-minute readings with noise, a few exceedances, gaps and calibration."""
    times = pd.date_range(START, periods=days * 1440, freq="1min")
    n = len(times)
    outlet: dict[str, np.ndarray] = {
        "flow_out": 60 + rng.normal(0, 2, n), "temperature": 29 + rng.normal(0, 0.5, n),
        "ph": 7.2 + rng.normal(0, 0.15, n), "tss": 40 + rng.normal(0, 6, n),
        "cod": 80 + rng.normal(0, 12, n), "nh4_n": 3 + rng.normal(0, 0.4, n),
    }
    for _ in range(5):  # exceedance episodes of 1-3 hours
        at = int(rng.integers(0, n - 200))
        outlet["cod"][at:at + int(rng.integers(60, 180))] *= 2.0
    gap = int(rng.integers(0, n - 300))
    for key in OUTLET:
        outlet[key][gap:gap + 240] = np.nan
    status = np.zeros(n, dtype=np.int64)
    status[int(rng.integers(0, n - 60)):][:30] = 1
    bypass = np.zeros(n)
    bypass[int(rng.integers(0, n - 30)):][:20] = 5.0
    parts = [
        pd.DataFrame({"time": times, "plant": plant.id, "station": "inlet",
                      "flow_in": 62 + rng.normal(0, 2, n)}),
        pd.DataFrame({"time": times, "plant": plant.id, "station": "outlet", **outlet,
                      "cod_status": status}),
        pd.DataFrame({"time": times, "plant": plant.id, "station": "bypass",
                      "flow_bypass": bypass}),
    ]
    frame = pd.concat(parts, ignore_index=True)
    for key in ("flow_in", "flow_bypass", *OUTLET):
        col = f"{key}_status"
        frame[col] = frame[col].fillna(0).astype(np.int64) if col in frame else 0
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def timed(fn: object, *args: object) -> tuple[float, object]:
    began = time.perf_counter()
    out = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - began, out


def main() -> None:
    settings = CheckSettings()
    rng = np.random.default_rng(7)
    end = START + timedelta(days=DAYS)
    now = end + timedelta(hours=1)

    # baselines: one plant-day (median of 5) and one inline batch of one record per station
    plant0 = make_plant(0)
    day_frame = make_frame(plant0, rng, days=1)
    day_times = [timed(evaluate, day_frame, plant0, settings, START,
                       START + timedelta(days=1), START + timedelta(days=1))[0]
                 for _ in range(5)]
    limits = plant_limits(plant0, date(2026, 10, 1))
    batch = day_frame.iloc[:3]
    batch_times = [timed(instantaneous_findings, batch, plant0, settings, limits)[0]
                   for _ in range(20)]

    seconds, rows, findings, generate = [], 0, 0, 0.0
    for i in range(PLANTS):
        plant = make_plant(i)
        began = time.perf_counter()
        frame = make_frame(plant, rng)
        generate += time.perf_counter() - began
        took, result = timed(evaluate, frame, plant, settings, START, end, now)
        seconds.append(took)
        rows += len(frame)
        findings += len(result.findings)  # type: ignore[attr-defined]

    total = sum(seconds)
    day = statistics.median(day_times)
    print(json.dumps({
        "benchmark": "rules.evaluate",
        "plants": PLANTS, "parameters": 8, "days": DAYS, "interval": "1m",
        "rows": rows, "values": rows // 3 * 8, "findings": findings,
        "seconds_total": round(total, 3),
        "seconds_per_plant_month": round(total / PLANTS, 4),
        "seconds_per_plant_month_max": round(max(seconds), 4),
        "rows_per_s": round(rows / total),
        "baseline_plant_day_s": round(day, 4),
        "month_over_day_ratio": round(total / PLANTS / day, 2),
        "inline_batch_s": round(statistics.median(batch_times), 5),
        "generate_s": round(generate, 2),
    }))


if __name__ == "__main__":
    main()
