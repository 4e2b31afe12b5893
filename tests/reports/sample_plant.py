"""A small hand-built plant, three days of 5-minute readings and the CheckResult to match."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from reports.model import AlertRow, Report, build_report
from rules.findings import Finding
from rules.limits import plant_limits
from rules.permit import Plant
from rules.results import CheckResult, CompletenessRow, TreatmentRow

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 10, 1, tzinfo=ZONE)
END = datetime(2026, 10, 4, tzinfo=ZONE)
KEYS = ["flow_in", "flow_out", "temperature", "ph", "tss", "cod", "nh4_n", "flow_bypass"]
STATIONS = {
    "inlet": ["flow_in"],
    "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"],
    "bypass": ["flow_bypass"],
}
COD_HIGH = (datetime(2026, 10, 2, 10, tzinfo=ZONE), datetime(2026, 10, 2, 11, tzinfo=ZONE))
COD_CAL = (datetime(2026, 10, 3, 8, tzinfo=ZONE), datetime(2026, 10, 3, 10, tzinfo=ZONE))
TSS_ERR = (datetime(2026, 10, 3, 14, tzinfo=ZONE), datetime(2026, 10, 3, 14, 30, tzinfo=ZONE))
PH_LOW = datetime(2026, 10, 3, 3, tzinfo=ZONE)


def make_plant(name: str = "Kim Bai Industrial Cluster WWTP") -> Plant:
    return Plant(id="kim-bai", cluster="kim-bai", name=name, design_flow_m3_day=1500,
                 kq=0.9, interval="5m", stations=STATIONS)


# QCVN 40:2011 column B, Kq 0.9, Kf 1.0: COD 135, TSS 90, NH4-N 9, pH 5.5–9, 40 °C
LIMITS = plant_limits(make_plant(), START.date())


def make_frame() -> pd.DataFrame:
    times = pd.date_range(START, END, freq="5min", inclusive="left").tz_convert("UTC")
    n = len(times)
    step = np.arange(n)
    frames = []
    for station in STATIONS:
        data: dict[str, object] = {
            "time": times,
            "plant": pd.Series(["kim-bai"] * n, dtype="str"),
            "station": pd.Series([station] * n, dtype="str"),
        }
        for key in KEYS:
            data[key] = np.full(n, np.nan)
            data[f"{key}_status"] = np.zeros(n, dtype="int64")
        frame = pd.DataFrame(data)
        local = frame["time"].dt.tz_convert(ZONE)
        if station == "inlet":
            frame["flow_in"] = 62.5
        elif station == "bypass":
            frame["flow_bypass"] = 0.0
        else:
            frame["flow_out"] = 61.0
            frame["temperature"] = 29.0 + (step % 10) * 0.1
            frame["ph"] = 7.0 + (step % 5) * 0.05
            frame["tss"] = 20.0 + (step % 7)
            frame["cod"] = 40.0 + (step % 11)
            frame["nh4_n"] = 2.0 + (step % 3) * 0.5
            high = (local >= COD_HIGH[0]) & (local < COD_HIGH[1])
            frame.loc[high, "cod"] = 151.2
            cal = (local >= COD_CAL[0]) & (local < COD_CAL[1])
            frame.loc[cal, "cod"] = 999.0  # calibration standard: stored, never valid
            frame.loc[cal, "cod_status"] = 1
            err = (local >= TSS_ERR[0]) & (local < TSS_ERR[1])
            frame.loc[err, "tss"] = np.nan
            frame.loc[err, "tss_status"] = 2
            frame.loc[local == PH_LOW, "ph"] = 5.0
        frames.append(frame)
    return pd.concat(frames).sort_values("time", kind="stable").reset_index(drop=True)


def make_result() -> CheckResult:
    findings = [
        Finding("kim-bai", "outlet", "cod", "exceedance", "hourly_mean", COD_HIGH[0],
                COD_HIGH[1], 151.2, 135.0, 1.12, "minor"),
        Finding("kim-bai", "bypass", "flow_bypass", "bypass", "instantaneous",
                datetime(2026, 10, 2, 12, tzinfo=ZONE), datetime(2026, 10, 2, 12, 30, tzinfo=ZONE),
                30.0, None, None, "critical"),
        Finding("kim-bai", "outlet", "ph", "below_minimum", "instantaneous", PH_LOW, PH_LOW,
                5.0, 5.5, 0.91, "warning"),
        Finding("kim-bai", "outlet", "tss", "sensor_fault", "instantaneous", TSS_ERR[0],
                TSS_ERR[1], None, None, None, "info"),
    ]
    treatment = [
        TreatmentRow("kim-bai", "2026-10-01", 1500.0, 1464.0, 0.0, 0.976, 0.976),
        TreatmentRow("kim-bai", "2026-10-02", 1500.0, 1464.0, 15.0, 0.976, 0.9353),
        TreatmentRow("kim-bai", "2026-10-03", 1500.0, 1464.0, 0.0, 0.976, 0.976),
        TreatmentRow("other", "2026-10-01", 1.0, 1.0, 0.0, 1.0, 1.0),
    ]
    completeness = []
    for offset in range(3):
        day = date(2026, 10, 1) + timedelta(days=offset)
        for key in STATIONS["outlet"]:
            valid = 288
            if offset == 2 and key == "cod":
                valid = 264
            if offset == 2 and key == "tss":
                valid = 282
            completeness.append(CompletenessRow("kim-bai", "outlet", key, day, 288, valid))
    return CheckResult(findings, treatment, completeness)


ALERTS = [
    AlertRow(id="A-17", parameter="cod", kind="exceedance", severity="minor",
             state="resolved", start=COD_HIGH[0], end=COD_HIGH[1], acked_by="Nguyễn Văn An",
             acked_at=datetime(2026, 10, 2, 3, 20, tzinfo=UTC), note="Tăng liều PAC"),
]
GENERATED = datetime(2026, 11, 1, 8, 0, tzinfo=ZONE)


def make_report(lang: str = "vi", plant: Plant | None = None,
                alerts: list[AlertRow] | None = None) -> Report:
    return build_report(make_frame(), plant or make_plant(), make_result(), LIMITS, START, END,
                        alerts=ALERTS if alerts is None else alerts, lang=lang,
                        generated_at=GENERATED, version="0.1.0")
