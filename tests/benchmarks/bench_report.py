"""Benchmark: a month report for one plant with 1-minute data (HTML + PDF + CSV).

Prints one JSON line with the seconds of each stage; the target is a total under 30 s.
Run: .venv/bin/python tests/benchmarks/bench_report.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reports.charts import draw_charts
from reports.html import render_html
from reports.model import build_report
from reports.output import report_stem
from reports.pdf import render_pdf
from reports.tables import TABLES, render_table
from rules.evaluate import evaluate
from rules.limits import plant_limits
from rules.permit import Plant
from rules.settings import CheckSettings

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 10, 1, tzinfo=ZONE)
END = datetime(2026, 11, 1, tzinfo=ZONE)
STATIONS = {
    "inlet": ["flow_in"],
    "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"],
    "bypass": ["flow_bypass"],
}
KEYS = [k for keys in STATIONS.values() for k in keys]
TARGET_S = 30.0


def month_frame(plant: Plant, seed: int = 1) -> pd.DataFrame:
    """1-minute readings of every station with noise, a daily cycle and a few COD spikes."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(START, END, freq="1min", inclusive="left").tz_convert("UTC")
    n = len(times)
    hours = np.arange(n) / 60.0
    cycle = np.sin(2 * np.pi * hours / 24.0)
    base = {
        "flow_in": 62.5 + 10 * cycle + rng.normal(0, 1.5, n),
        "flow_out": 62.0 + 10 * cycle + rng.normal(0, 1.5, n),
        "temperature": 29 + cycle + rng.normal(0, 0.2, n),
        "ph": 7.1 + rng.normal(0, 0.1, n),
        "tss": 30 + 5 * cycle + rng.normal(0, 3, n),
        "cod": 60 + 10 * cycle + rng.normal(0, 5, n),
        "nh4_n": 3 + rng.normal(0, 0.4, n),
        "flow_bypass": np.zeros(n),
    }
    for day in (4, 12, 23):  # two-hour COD spikes at twice the limit
        at = (day * 24 + 10) * 60
        base["cod"][at:at + 120] = 270.0 + rng.normal(0, 5, 120)
    status = {k: np.zeros(n, dtype="int64") for k in KEYS}
    at = (15 * 24 + 8) * 60
    status["cod"][at:at + 30] = 1  # calibration
    frames = []
    for station, keys in STATIONS.items():
        data: dict[str, object] = {"time": times, "plant": plant.id, "station": station}
        for key in KEYS:
            data[key] = base[key] if key in keys else np.full(n, np.nan)
            data[f"{key}_status"] = status[key] if key in keys else np.zeros(n, dtype="int64")
        frames.append(pd.DataFrame(data))
    frame = pd.concat(frames).sort_values("time", kind="stable").reset_index(drop=True)
    frame["plant"] = frame["plant"].astype("str")
    frame["station"] = frame["station"].astype("str")
    return frame


def main() -> int:
    plant = Plant(id="kim-bai", cluster="kim-bai", name="Kim Bai Industrial Cluster WWTP",
                  design_flow_m3_day=1500, kq=0.9, interval="1m", stations=STATIONS)
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = round(now - clock, 3)
        clock = now

    frame = month_frame(plant)
    lap("data")
    result = evaluate(frame, plant, CheckSettings(), START, END, now=END)
    lap("evaluate")
    report = build_report(frame, plant, result, plant_limits(plant, START.date()), START, END,
                          lang="vi", generated_at=END)
    lap("model")
    charts = draw_charts(report)
    lap("charts")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        stem = report_stem(report)
        (out / f"{stem}_vi.html").write_text(render_html(report, charts), encoding="utf-8")
        lap("html")
        (out / f"{stem}_vi.pdf").write_bytes(render_pdf(report, charts))
        lap("pdf")
        for table in TABLES:
            (out / f"{stem}_{table}.csv").write_bytes(render_table(report, table))
        lap("csv")
    report_s = sum(v for k, v in stages.items() if k not in ("data", "evaluate"))
    total = sum(v for k, v in stages.items() if k != "data")
    print(json.dumps({
        "benchmark": "report", "rows": len(frame), "findings": len(result.findings),
        "stages_s": stages, "report_s": round(report_s, 3), "total_s": round(total, 3),
        "target_s": TARGET_S, "ok": total < TARGET_S,
    }))
    return 0 if total < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
