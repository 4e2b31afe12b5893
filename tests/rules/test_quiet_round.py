"""`quiet_round` (one station's round, all columns at once) decides exactly what `_quiet`
decides series by series, on rounds where every record has every key with status 00: random
values around the limits, the physical ranges and the jump steps, stuck runs, bypass flow."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.evaluate import _quiet, quiet_round
from rules.limits import plant_limits
from rules.permit import Plant
from rules.series import series_of
from rules.settings import CheckSettings

KEYS = ("cod", "ph", "tss", "flow_out", "flow_bypass", "temperature", "nh4_n")
VALUES = (-1.0, 0.0, 0.5, 3.0, 5.6, 7.0, 8.0, 8.9, 9.1, 15.0, 50.0, 51.0, 134.0, 136.0,
          200.0, 1e6)
SETTINGS = (
    CheckSettings(),
    CheckSettings(stuck_readings=3, jump_steps={"ph": 3.0, "cod": 100.0},
                  compliance_stations=("outlet", "inlet")),
    CheckSettings(alert_bases=()),
)
PLANT = Plant.model_validate({
    "id": "kb", "cluster": "kb", "name": "kb", "timezone": "Asia/Ho_Chi_Minh",
    "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
    "interval": "5m", "stations": {"outlet": list(KEYS), "inlet": ["cod"]},
})
LIMITS = plant_limits(PLANT, date(2026, 11, 1))


@st.composite
def rounds(draw: st.DrawFn) -> tuple[str, tuple[str, ...], np.ndarray, CheckSettings]:
    keys = tuple(draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True)))
    count = draw(st.integers(1, 12))
    column = st.one_of(st.sampled_from(VALUES),
                       st.floats(-10, 300, allow_nan=False).map(lambda v: round(v, 1)))
    grid = [[draw(column) for _ in keys] for _ in range(count)]
    return (draw(st.sampled_from(["outlet", "inlet", "bypass"])), keys,
            np.array(grid, dtype=np.float64).reshape(count, len(keys)),
            draw(st.sampled_from(SETTINGS)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds())
def test_a_round_is_quiet_exactly_when_each_of_its_series_is(
        case: tuple[str, tuple[str, ...], np.ndarray, CheckSettings]) -> None:
    station, keys, grid, checks = case
    times = np.arange(len(grid), dtype=np.int64) * 300_000_000_000
    each = []
    for column, key in enumerate(keys):
        series = series_of(station, key, times, np.ascontiguousarray(grid[:, column]),
                           np.zeros(len(grid), dtype=np.int64), checks)
        judged = ("instantaneous" in checks.alert_bases
                  and station in checks.compliance_stations and key in LIMITS.limits)
        each.append(_quiet(series, checks, LIMITS.get(key) if judged else None))
    assert quiet_round(station, keys, grid, checks, LIMITS) == all(each)


def test_quiet_and_loud_rounds() -> None:
    checks = CheckSettings()
    steady = np.array([[50.0, 7.0], [51.0, 7.1], [52.0, 7.2]])
    assert quiet_round("outlet", ("cod", "ph"), steady, checks, LIMITS)
    breach = steady.copy()
    breach[1, 0] = 1000.0
    assert not quiet_round("outlet", ("cod", "ph"), breach, checks, LIMITS)
    assert quiet_round("inlet", ("cod", "ph"), breach, checks, LIMITS)  # not a compliance station
    assert not quiet_round("inlet", ("ph",), np.array([[7.0], [15.0]]), checks, LIMITS)  # >14
    assert not quiet_round("bypass", ("flow_bypass",), np.array([[0.0], [0.5]]), checks, LIMITS)
