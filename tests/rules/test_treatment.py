"""Treatment target: flow integration, gaps, bypass, treated and compliant ratios."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from rules.evaluate import evaluate
from rules.series import Series
from rules.settings import CheckSettings
from rules.treatment import integrate

DAY0 = (2026, 10, 4, 17)  # 2026-10-05 00:00 in Hanoi
N = 288
COVERED_H = 24 - 5 / 60  # readings 00:00..23:55: the last interval is not bridged in-range
STATIONS = {"inlet": ["flow_in"], "outlet": ["flow_out", "cod"], "bypass": ["flow_bypass"]}


def plant_day(frames: Any, flow_in: Any = 62.5, flow_out: Any = 60.0, bypass: Any = 0.0,
              cod: Any = 100.0, days: int = 1, now_hours: float = 48) -> Any:
    start = frames.utc(*DAY0)
    n = N * days
    frame = frames.combine(
        frames.station(start, {"flow_in": np.broadcast_to(flow_in, n)}, station="inlet"),
        frames.station(start, {"flow_out": np.broadcast_to(flow_out, n),
                               "cod": np.broadcast_to(cod, n)}),
        frames.station(start, {"flow_bypass": np.broadcast_to(bypass, n)}, station="bypass"),
    )
    return evaluate(frame, frames.plant(stations=STATIONS), CheckSettings(), start,
                    start + timedelta(days=days), now=start + timedelta(hours=now_hours))


def test_volumes_and_ratios(frames: Any) -> None:
    result = plant_day(frames, flow_out=56.0)
    day, month = result.treatment
    assert day.date == "2026-10-05" and month.date == "2026-10"
    assert day.inflow_m3 == pytest.approx(62.5 * COVERED_H)
    assert day.outflow_m3 == pytest.approx(56.0 * COVERED_H)
    assert day.bypass_m3 == 0.0
    assert day.treated_ratio == pytest.approx(0.896)
    assert day.compliant_ratio == pytest.approx(0.896)
    assert day.flow_gap_hours == pytest.approx(5 / 60)
    assert set(day.to_json()) == {"plant", "date", "inflow_m3", "outflow_m3", "bypass_m3",
                                  "treated_ratio", "compliant_ratio"}
    (short,) = [f for f in result.findings if f.kind == "treatment_shortfall"]
    assert (short.basis, short.value, short.limit, short.severity) == (
        "day", pytest.approx(0.896), 1.0, "major")
    assert short.start.isoformat() == "2026-10-05T00:00:00+07:00"


@pytest.mark.parametrize(("flow_out", "shortfall"), [
    (60.0, False), (57.1, False),  # 95.2 %: within the default 5 % metering/loss tolerance
    (56.9, True),  # 94.8 %
])
def test_shortfall_against_target_less_tolerance(frames: Any, flow_out: float,
                                                 shortfall: bool) -> None:
    result = plant_day(frames, flow_in=60.0, flow_out=flow_out)
    assert result.treatment[0].compliant_ratio == pytest.approx(flow_out / 60.0)
    found = [f for f in result.findings if f.kind == "treatment_shortfall"]
    assert [f.basis for f in found] == (["day"] if shortfall else [])  # month is partial


def test_exceeding_hour_is_not_compliant_outflow(frames: Any) -> None:
    cod = np.full(N, 100.0)
    cod[120:132] = 200.0  # local hour 10
    day = plant_day(frames, flow_in=60.0, cod=cod).treatment[0]
    assert day.treated_ratio == pytest.approx(1.0)
    assert day.compliant_ratio == pytest.approx((COVERED_H - 1) / COVERED_H)


def test_gap_not_bridged(frames: Any) -> None:
    flow_in = np.full(N, 60.0)
    flow_in[100:112] = np.nan  # one hour silent: 65 min between readings
    day = plant_day(frames, flow_in=flow_in, flow_out=60.0).treatment[0]
    assert day.inflow_m3 == pytest.approx(60.0 * (COVERED_H - 65 / 60))
    assert day.flow_gap_hours == pytest.approx(65 / 60 + 5 / 60)
    # ratios only over hours both meters measured: the outage does not look like a shortfall
    assert day.treated_ratio == pytest.approx(1.0)


def test_hour_without_valid_data_is_not_a_breach(frames: Any) -> None:
    cod = np.full(N, 100.0)
    cod[120:132] = np.nan
    result = plant_day(frames, flow_in=60.0, flow_out=60.0, cod=cod)
    assert result.treatment[0].compliant_ratio == pytest.approx(1.0)
    assert [f.kind for f in result.findings if f.basis == "hourly_mean"] == ["insufficient_data"]


def test_bypass_finding_and_volume(frames: Any) -> None:
    bypass = np.zeros(N)
    bypass[36:48] = 10.0  # local hour 3
    result = plant_day(frames, bypass=bypass)
    (f,) = [f for f in result.findings if f.kind == "bypass"]
    assert (f.station, f.parameter, f.severity, f.value, f.limit) == (
        "bypass", "flow_bypass", "critical", 10.0, 0.0)
    assert (f.start.strftime("%H:%M"), f.end.strftime("%H:%M")) == ("03:00", "03:55")
    assert result.treatment[0].bypass_m3 == pytest.approx(10.0)


def test_partial_day_has_rows_but_no_shortfall(frames: Any) -> None:
    result = plant_day(frames, now_hours=6)
    (day, month) = result.treatment
    assert day.inflow_m3 == pytest.approx(62.5 * (6 - 5 / 60)) == month.inflow_m3
    assert not [f for f in result.findings if f.kind == "treatment_shortfall"]


def test_integration_splits_at_boundaries_and_irregular_steps() -> None:
    hour = 3_600_000_000_000
    times = np.array([0, hour // 2, 2 * hour, 2 * hour + hour // 6], dtype=np.int64)
    values = np.array([60.0, 60.0, 120.0, 120.0])
    series = Series("inlet", "flow_in", times, values, np.zeros(4, dtype=np.int64),
                    np.ones(4, dtype=bool))
    edges = np.array([0, hour, 2 * hour, 3 * hour], dtype=np.int64)
    volume, covered = integrate(series, edges, gap_ns=3 * hour)
    # 0-0.5 h at 60: 30; 0.5-2 h ramp 60->120: 135 spread evenly: 45 in hour 0, 90 in hour 1
    assert volume == pytest.approx([75.0, 90.0, 20.0])
    assert covered / hour == pytest.approx([1.0, 1.0, 1 / 6])
    volume, _ = integrate(series, edges, gap_ns=hour)  # the 1.5 h step is not bridged
    assert volume == pytest.approx([30.0, 0.0, 20.0])


def test_noncompliant_or_bypassed_water_is_a_shortfall_within_the_tolerance(frames: Any) -> None:
    cod = np.full(N, 100.0)
    cod[120:132] = 200.0  # one hourly mean over the limit: ~4.2 % of the day's outflow
    result = plant_day(frames, flow_in=60.0, cod=cod)
    day = result.treatment[0]
    assert day.compliant_ratio is not None and day.compliant_ratio > 0.95  # inside tolerance
    assert [f.basis for f in result.findings if f.kind == "treatment_shortfall"] == ["day"]
    bypass = np.zeros(N)
    bypass[10] = 1.0  # one reading of untreated flow
    result = plant_day(frames, flow_in=60.0, bypass=bypass)
    assert [f.basis for f in result.findings if f.kind == "treatment_shortfall"] == ["day"]
    clean = plant_day(frames, flow_in=60.0, flow_out=59.0)  # meters disagree by 1.7 %
    assert not [f for f in clean.findings if f.kind == "treatment_shortfall"]
