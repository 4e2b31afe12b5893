"""The plant model: reproducible, realistic, compliant in normal operation."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest

from simulator.plant import (
    PlantModel,
    episode_limit,
    plant_seed,
    reference_limit,
    typical_level,
)


def test_same_seed_gives_the_same_bytes(sim, plant):
    first = [(m.topic, m.payload) for m in sim.run([plant], scenario="all", seed=7)]
    second = [(m.topic, m.payload) for m in sim.run([plant], scenario="all", seed=7)]
    assert first == second
    assert len(first) > 200


def test_different_seeds_differ(sim, plant):
    a = [m.payload for m in sim.run([plant], seed=1)]
    b = [m.payload for m in sim.run([plant], seed=2)]
    assert len(a) == len(b)
    assert sum(x != y for x, y in zip(a, b, strict=True)) > len(a) // 2


def test_cloned_plants_have_distinct_patterns(sim, plant):
    messages = sim.run([plant], plants=3, duration=timedelta(hours=2))
    cod: dict[str, list[float]] = defaultdict(list)
    for reading in sim.readings(messages, "outlet"):
        cod[reading.plant].append(reading.values["cod"])
    assert sorted(cod) == ["kim-bai", "sim-002", "sim-003"]
    assert cod["kim-bai"] != cod["sim-002"] != cod["sim-003"]
    assert plant_seed(1, "kim-bai").generate_state(2).tolist() != (
        plant_seed(1, "sim-002").generate_state(2).tolist()
    )


def test_a_normal_weekday_is_compliant_and_near_design_flow(sim, plant):
    messages = sim.run([plant], duration=timedelta(days=1))
    outlet = sim.readings(messages, "outlet")
    inlet = sim.readings(messages, "inlet")
    assert len(outlet) == len(inlet) == 288
    limits = {"cod": 135.0, "tss": 90.0, "nh4_n": 9.0}
    for key, limit in limits.items():
        values = [r.values[key] for r in outlet]
        assert max(values) < 0.8 * limit, key
        assert min(values) > 0, key
    cod = [r.values["cod"] for r in outlet]
    assert 40 <= float(np.mean(cod)) <= 70
    ph = [r.values["ph"] for r in outlet]
    assert min(ph) > 5.5 and max(ph) < 9.0
    assert abs(float(np.mean(ph)) - 7.2) < 0.2
    temperature = [r.values["temperature"] for r in outlet]
    assert min(temperature) >= 26.0 and max(temperature) <= 33.0
    assert max(temperature) - min(temperature) > 2.0  # a daily cycle, not a constant
    inflow_m3 = sum(r.values["flow_in"] for r in inlet) * 5 / 60
    outflow_m3 = sum(r.values["flow_out"] for r in outlet) * 5 / 60
    assert inflow_m3 == pytest.approx(1500, rel=0.15)
    assert outflow_m3 == pytest.approx(inflow_m3, rel=0.1)
    assert not [r for r in outlet if r.status]


def test_inflow_follows_the_working_day(sim, plant):
    messages = sim.run([plant], duration=timedelta(days=1))
    by_hour: dict[int, list[float]] = defaultdict(list)
    for reading in sim.readings(messages, "inlet"):
        by_hour[reading.ts.astimezone(plant.zone).hour].append(reading.values["flow_in"])
    hourly = {hour: float(np.mean(values)) for hour, values in by_hour.items()}
    night = np.mean([hourly[h] for h in (1, 2, 3, 4)])
    shift = np.mean([hourly[h] for h in (9, 10, 14, 15)])
    assert shift > 2 * night
    assert hourly[12] < min(hourly[10], hourly[14])  # lunch dip


def test_weekend_is_lower_than_weekdays(sim, plant):
    model = PlantModel(plant, seed=3, interval=timedelta(minutes=5))
    times = [sim.MONDAY + timedelta(minutes=5 * k) for k in range(288 * 7)]
    daily = model.series(times)["flow_in"].reshape(7, 288).sum(axis=1) * 5 / 60
    weekdays, weekend = daily[:5], daily[5:]
    assert max(weekend) < 0.9 * min(weekdays)


def test_outflow_lags_inflow(plant, sim):
    model = PlantModel(plant, seed=5, interval=timedelta(minutes=5))
    times = [sim.MONDAY + timedelta(minutes=5 * k) for k in range(288 * 2)]
    series = model.series(times)
    inflow, outflow = series["flow_in"], series["flow_out"]

    def correlation(lag: int) -> float:
        return float(np.corrcoef(inflow[: len(inflow) - lag], outflow[lag:])[0, 1])

    assert correlation(12) > correlation(0)  # 1 h later fits better than no lag


@pytest.mark.parametrize(
    ("column", "kq", "limits", "key", "expected"),
    [
        ("B", 0.9, {}, "cod", 135.0),
        ("A", 0.9, {}, "cod", 67.5),
        ("B", None, {}, "tss", 100.0),
        ("B", 0.9, {"cod": 100.0}, "cod", 100.0),
        ("B", 0.9, {}, "ph", None),
        ("B", 1.0, {}, "color", 150.0),  # no Kq/Kf for colour
        ("B", 0.9, {}, "conductivity", None),
    ],
)
def test_reference_limit(sim, column, kq, limits, key, expected):
    plant = sim.kim_bai(column=column, kq=kq, limits=limits)
    assert reference_limit(plant, key) == expected


def test_column_a_plant_stays_inside_its_stricter_limit(sim):
    plant = sim.kim_bai(column="A")
    assert typical_level(plant, "cod") < 0.5 * 67.5
    outlet = sim.readings(sim.run([plant], duration=timedelta(hours=12)), "outlet")
    assert max(r.values["cod"] for r in outlet) < 67.5


def test_kf_follows_the_design_flow(sim):
    small = sim.kim_bai(design_flow_m3_day=400)
    large = sim.kim_bai(design_flow_m3_day=8000)
    assert reference_limit(small, "cod") == pytest.approx(150 * 0.9 * 1.1)
    assert reference_limit(large, "cod") == pytest.approx(150 * 0.9 * 0.9)


def test_without_kq_normal_is_safe_and_episodes_still_exceed(sim):
    plant = sim.kim_bai(kq=None)
    lake_limit = 150 * 0.6  # the lowest Kq: whatever the receiving water, normal complies
    assert typical_level(plant, "cod") < 0.5 * lake_limit
    assert episode_limit(plant, "cod") == pytest.approx(150 * 1.3)
