"""Evaluation bases: instantaneous, hourly/daily/monthly means, 75 % rule, episodes, severity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from rules.evaluate import evaluate
from rules.findings import Finding
from rules.settings import CheckSettings

DAY0 = (2026, 10, 4, 17)  # 2026-10-05 00:00 in Hanoi
PER_DAY = 288  # 5-minute readings


def run(frames: Any, values: dict[str, Any], settings: CheckSettings | None = None,
        status: dict[str, Any] | None = None, days: int = 1, **plant: Any) -> list[Finding]:
    start = frames.utc(*DAY0)
    end = start + timedelta(days=days)
    frame = frames.station(start, values, status=status)
    plant.setdefault("stations", {"outlet": list(values)})
    result = evaluate(frame, frames.plant(**plant), settings or CheckSettings(), start, end,
                      now=end + timedelta(days=1))
    return result.findings


def pick(findings: list[Finding], kind: str, basis: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind and f.basis == basis]


def cod_day(base: float = 100.0, **hours: float) -> np.ndarray:
    """A day of COD readings; `h10=150` puts 150 in every reading of local hour 10."""
    cod = np.full(PER_DAY, base)
    for name, value in hours.items():
        h = int(name[1:])
        cod[h * 12:(h + 1) * 12] = value
    return cod


def test_hourly_mean_exceedance_shape(frames: Any) -> None:
    found = run(frames, {"cod": cod_day(h10=150.0), "ph": np.full(PER_DAY, 7.0)})
    (f,) = pick(found, "exceedance", "hourly_mean")
    assert f.to_json() == {
        "plant": "kim-bai", "station": "outlet", "parameter": "cod", "kind": "exceedance",
        "basis": "hourly_mean", "start": "2026-10-05T10:00:00+07:00",
        "end": "2026-10-05T11:00:00+07:00", "value": 150.0, "limit": 135.0, "ratio": 1.11,
        "severity": "minor",
    }
    assert pick(found, "exceedance", "daily_mean") == []  # day mean 102 is fine


@pytest.mark.parametrize(("value", "severity"), [
    (135.0, None), (140.0, "warning"), (148.5, "minor"), (202.4, "minor"), (202.5, "major"),
    (404.9, "major"), (405.0, "critical"),
])
def test_severity_bands(frames: Any, value: float, severity: str | None) -> None:
    found = pick(run(frames, {"cod": cod_day(h3=value)}), "exceedance", "hourly_mean")
    assert [f.severity for f in found] == ([] if severity is None else [severity])


def test_consecutive_windows_merge_into_one_episode(frames: Any) -> None:
    found = pick(run(frames, {"cod": cod_day(h10=140, h11=300, h13=150)}), "exceedance",
                 "hourly_mean")
    assert [(f.start.hour, f.end.hour, f.value, f.severity) for f in found] == [
        (10, 12, 300.0, "major"), (13, 14, 150.0, "minor")]


def test_daily_mean_on_the_hanoi_calendar_day(frames: Any) -> None:
    """Readings from 17:00 UTC belong to the next Hanoi day: 23:30 UTC is 06:30 there."""
    start = frames.utc(2026, 10, 4, 0)
    times = [start + timedelta(minutes=5 * i) for i in range(2 * PER_DAY)]
    cod = np.where(np.array([t >= frames.utc(*DAY0) for t in times]), 200.0, 100.0)
    frame = frames.station(start, {"cod": cod}, times=times)
    result = evaluate(frame, frames.plant(), CheckSettings(), start, start + timedelta(days=2),
                      now=start + timedelta(days=3))
    (f,) = pick(result.findings, "exceedance", "daily_mean")
    assert (f.start.isoformat(), f.end.isoformat()) == ("2026-10-05T00:00:00+07:00",
                                                        "2026-10-06T00:00:00+07:00")
    assert f.value == 200.0
    dates = {c.date.isoformat(): c.valid for c in result.completeness if c.parameter == "cod"}
    # 2026-10-04T00:00Z..17:00Z are Hanoi 2026-10-04; the rest, 23:30Z included, 2026-10-05
    assert dates == {"2026-10-04": 17 * 12, "2026-10-05": PER_DAY, "2026-10-06": 7 * 12}


@pytest.mark.parametrize(("valid", "kind"), [
    (12, "exceedance"), (9, "exceedance"), (8, "insufficient_data"), (0, "insufficient_data"),
])
def test_75_percent_rule(frames: Any, valid: int, kind: str) -> None:
    cod = cod_day(h10=200.0)
    cod[10 * 12 + valid:11 * 12] = np.nan  # missing readings
    found = [f for f in run(frames, {"cod": cod}) if f.basis == "hourly_mean"]
    assert [f.kind for f in found] == [kind]
    if kind == "insufficient_data":
        assert found[0].value == pytest.approx(valid / 12)
        assert found[0].limit == 0.75 and found[0].ratio is None


@pytest.mark.parametrize(("calibrating", "kinds"), [
    (3, []),  # 9 valid readings of 100: fine; the 500s are never averaged
    (4, ["insufficient_data"]),  # 8 valid: not enough
])
def test_calibration_and_error_excluded(frames: Any, calibrating: int, kinds: list[str]) -> None:
    cod = cod_day()
    status = np.zeros(PER_DAY, dtype=np.int64)
    cod[120:120 + calibrating] = 500.0
    status[120:120 + calibrating] = [1, 2] * (calibrating // 2) + [1] * (calibrating % 2)
    start = frames.utc(*DAY0)
    frame = frames.station(start, {"cod": cod}, status={"cod": status})
    result = evaluate(frame, frames.plant(stations={"outlet": ["cod"]}), CheckSettings(), start,
                      start + timedelta(days=1), now=start + timedelta(days=2))
    assert [f.kind for f in result.findings if f.basis == "hourly_mean"] == kinds
    assert not [f for f in result.findings if f.kind == "exceedance"]
    (row,) = [c for c in result.completeness if c.parameter == "cod"]
    assert (row.valid, row.excluded, row.expected) == (PER_DAY - calibrating, calibrating,
                                                       PER_DAY)


def test_ph_range_both_sides(frames: Any) -> None:
    ph = np.full(PER_DAY, 7.0)
    ph[2 * 12:3 * 12] = 9.5
    ph[5 * 12:6 * 12] = 4.0
    found = [f for f in run(frames, {"ph": ph}) if f.basis == "hourly_mean"]
    assert [(f.kind, f.start.hour, f.value, f.limit, f.severity) for f in found] == [
        ("exceedance", 2, 9.5, 9.0, "warning"),
        ("below_minimum", 5, 4.0, 5.5, "minor"),  # 5.5 / 4.0 = 1.375
    ]
    assert found[1].ratio == pytest.approx(4.0 / 5.5)


def test_instantaneous_basis_and_gap_split(frames: Any) -> None:
    cod = cod_day()
    cod[[30, 31, 32, 100]] = [150.0, 160.0, 150.0, 300.0]
    settings = CheckSettings(default_bases=("instantaneous",))
    found = pick(run(frames, {"cod": cod}, settings), "exceedance", "instantaneous")
    assert [(f.start.strftime("%H:%M"), f.end.strftime("%H:%M"), f.value) for f in found] == [
        ("02:30", "02:40", 160.0), ("08:20", "08:20", 300.0)]
    # a gap longer than 3 intervals splits an otherwise continuous episode
    cod = np.full(PER_DAY, 150.0)
    cod[50:54] = np.nan
    found = pick(run(frames, {"cod": cod}, settings), "exceedance", "instantaneous")
    assert len(found) == 2


def test_monthly_mean_and_per_parameter_bases(frames: Any) -> None:
    start = frames.utc(2026, 9, 30, 17)  # 2026-10-01 local
    n = 31 * PER_DAY
    cod = np.full(n, 130.0)
    cod[: 10 * PER_DAY] = 150.0  # 10 days over, month mean 136.5 > 135
    frame = frames.station(start, {"cod": cod, "ph": np.full(n, 7.0)})
    settings = CheckSettings(bases={"cod": ("monthly_mean",)}, default_bases=("daily_mean",))
    result = evaluate(frame, frames.plant(), settings, start, start + timedelta(days=31),
                      now=start + timedelta(days=40))
    (f,) = pick(result.findings, "exceedance", "monthly_mean")
    assert (f.start.isoformat(), f.end.isoformat()) == ("2026-10-01T00:00:00+07:00",
                                                        "2026-11-01T00:00:00+07:00")
    assert f.value == pytest.approx(136.4516, abs=1e-3)
    assert not [f for f in result.findings if f.parameter == "cod" and f.basis != "monthly_mean"
                and f.kind == "exceedance"]


def test_windows_not_past_now(frames: Any) -> None:
    """A window still open at `now` is not judged (no premature insufficient_data)."""
    start = frames.utc(*DAY0)
    frame = frames.station(start, {"cod": np.full(30, 100.0)})  # 2.5 hours of data
    result = evaluate(frame, frames.plant(stations={"outlet": ["cod"]}), CheckSettings(), start,
                      start + timedelta(days=1), now=start + timedelta(hours=2, minutes=30))
    assert [f for f in result.findings if f.basis in ("hourly_mean", "daily_mean")] == []
