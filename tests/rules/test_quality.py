"""Data quality: completeness rows, no_data (gap, trailing, never seen), sensor faults."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from rules.evaluate import evaluate
from rules.findings import Finding
from rules.settings import CheckSettings

DAY0 = (2026, 10, 4, 17)  # 2026-10-05 00:00 in Hanoi


def check(frames: Any, values: dict[str, Any], hours: float = 24, now_after: float = 0,
          stations: dict[str, list[str]] | None = None,
          settings: CheckSettings | None = None, status: dict[str, Any] | None = None,
          ) -> Any:
    start = frames.utc(*DAY0)
    end = start + timedelta(hours=hours)
    frame = frames.station(start, values, status=status)
    plant = frames.plant(stations=stations or {"outlet": list(values)})
    return evaluate(frame, plant, settings or CheckSettings(), start, end,
                    now=end + timedelta(hours=now_after))


def kinds(findings: list[Finding], kind: str) -> list[tuple[str, str, str, Any]]:
    return [(f.parameter, f.start.strftime("%H:%M"), f.end.strftime("%H:%M"), f.value)
            for f in findings if f.kind == kind]


def test_completeness_rows(frames: Any) -> None:
    cod = np.full(288, 50.0)
    cod[:72] = np.nan  # 6 hours missing
    status = np.zeros(288, dtype=np.int64)
    status[100:110] = 2
    result = check(frames, {"cod": cod}, status={"cod": status})
    (row,) = result.completeness
    assert row.to_json() == {"plant": "kim-bai", "station": "outlet", "parameter": "cod",
                             "date": "2026-10-05", "expected": 288, "valid": 206,
                             "fraction": round(206 / 288, 4)}
    assert row.excluded == 10


def test_completeness_partial_day_is_pro_rata(frames: Any) -> None:
    result = check(frames, {"cod": np.full(24, 50.0)}, hours=2)
    assert [(r.expected, r.valid) for r in result.completeness] == [(24, 24)]


def test_no_data_gap_and_trailing_silence(frames: Any) -> None:
    cod = np.full(288, 50.0)
    cod[24:27] = np.nan  # 15 min gap (3 intervals missing -> 20 min between readings): > 15 min
    cod[60:62] = np.nan  # 15 min between readings: not more than 3 intervals
    cod[200:] = np.nan  # silent from 16:40 on
    found = check(frames, {"cod": cod}).findings
    assert kinds(found, "no_data") == [
        ("cod", "01:55", "02:15", None),
        ("cod", "16:35", "00:00", None),
    ]


def test_no_data_for_a_parameter_never_seen(frames: Any) -> None:
    result = check(frames, {"cod": np.full(288, 50.0)},
                   stations={"outlet": ["cod", "nh4_n"], "inlet": ["flow_in"]})
    silent = {(f.station, f.parameter) for f in result.findings if f.kind == "no_data"}
    assert silent == {("outlet", "nh4_n"), ("inlet", "flow_in")}
    assert {(c.parameter, c.valid) for c in result.completeness} == {
        ("cod", 288), ("nh4_n", 0), ("flow_in", 0)}


def test_no_data_up_to_now(frames: Any) -> None:
    # data end at 24:00 local; checked at 00:10 next day: silence of 15 min is not yet > 3 × 5
    assert kinds(check(frames, {"cod": np.full(288, 50.0)}, now_after=0).findings,
                 "no_data") == []


@pytest.mark.parametrize(("key", "bad", "expected"), [
    ("cod", -3.0, -3.0),
    ("ph", 14.5, 14.5),
    ("ph", -0.1, -0.1),
    ("flow_out", -1.0, -1.0),
    ("temperature", 120.0, 120.0),
])
def test_impossible_values(frames: Any, key: str, bad: float, expected: float) -> None:
    values = np.linspace(5.0, 9.0, 288)
    values[10] = bad
    values[11] = bad
    result = check(frames, {key: values})
    assert kinds(result.findings, "sensor_fault") == [(key, "00:50", "00:55", expected)]
    # impossible readings never count as valid
    assert result.completeness[0].valid == 286


def test_stuck_value(frames: Any) -> None:
    values = np.linspace(50.0, 60.0, 288)
    values[100:124] = 42.0  # 24 identical readings (the default N)
    values[200:223] = 43.0  # 23: not stuck
    found = check(frames, {"cod": values}).findings
    assert kinds(found, "sensor_fault") == [("cod", "08:20", "10:15", 42.0)]
    found = check(frames, {"cod": values}, settings=CheckSettings(stuck_readings=23)).findings
    assert len(kinds(found, "sensor_fault")) == 2


def test_stuck_exempt_bypass_zero(frames: Any) -> None:
    found = check(frames, {"flow_bypass": np.zeros(288)},
                  stations={"bypass": ["flow_bypass"]}).findings
    assert kinds(found, "sensor_fault") == []


def test_jump_beyond_step(frames: Any) -> None:
    ph = np.full(288, 7.0) + np.linspace(0, 0.5, 288)
    ph[150] = 11.5  # +4.4 then -4.4
    found = check(frames, {"ph": ph}).findings
    faults = [f for f in found if f.kind == "sensor_fault"]
    assert [(f.start.strftime("%H:%M"), f.end.strftime("%H:%M"), f.limit) for f in faults] == [
        ("12:25", "12:30", 3.0), ("12:30", "12:35", 3.0)]
    assert faults[0].value == pytest.approx(11.5 - ph[149])


def test_calibration_values_are_not_faults(frames: Any) -> None:
    ph = np.full(288, 7.0) + np.linspace(0, 0.5, 288)
    ph[150] = 15.0  # a calibration standard, flagged 01
    status = np.zeros(288, dtype=np.int64)
    status[150] = 1
    found = check(frames, {"ph": ph}, status={"ph": status}).findings
    assert kinds(found, "sensor_fault") == []


def test_device_error_is_a_fault_calibration_is_not(frames: Any) -> None:
    tss = np.linspace(20.0, 30.0, 288)
    status = np.zeros(288, dtype=np.int64)
    status[144:156] = 2  # device error 12:00-12:55
    status[10:14] = 1  # calibration
    tss[144:156] = 999.0
    found = check(frames, {"tss": tss}, status={"tss": status}).findings
    assert kinds(found, "sensor_fault") == [("tss", "12:00", "12:55", 999.0)]
    assert [f.kind for f in found if f.basis == "hourly_mean"] == ["insufficient_data"]
