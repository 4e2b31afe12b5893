"""instantaneous_findings (quiet-series pre-filter, series_of) gives exactly what the plain
per-series checks give, on random frames: statuses 01/02, NaN values, impossible values,
bypass flow, jumps, stuck runs, breaches, several plants and stations, unsorted times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.limits import plant_limits
from rules.permit import Plant
from rules.settings import CheckSettings
from tests.rules.inline_reference import instantaneous_findings, reference_findings

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
KEYS = ("cod", "ph", "tss", "flow_in", "flow_out", "flow_bypass", "temperature")
# Each example draws its rows' values from a few of these: consecutive equal values (stuck),
# big steps (jumps), breaches of the COD/TSS/pH limits (and values just inside them),
# impossible values (negative, pH 15), bypass flow on and off, missing values (NaN).
VALUES = (-1.0, 0.0, 3.0, 5.4, 5.6, 6.0, 7.0, 8.0, 8.9, 9.1, 15.0, 50.0, 51.0, 60.0, 89.0,
          134.0, 136.0, 200.0, float("nan"))
# Palettes of in-range values where a single cause decides: a pH jump above 3 only, a COD
# jump above 100 only, nothing at all (unless values repeat).
QUIET = ((5.6, 8.9), (0.0, 134.0), (6.0, 7.0, 8.0, 51.0, 60.0))
STATIONS = ("outlet", "inlet", "bypass", "spare")

PLANT = Plant.model_validate({
    "id": "kim-bai", "cluster": "kim-bai", "name": "Kim Bai WWTP",
    "timezone": "Asia/Ho_Chi_Minh", "design_flow_m3_day": 1500, "regulation": "qcvn40-2011",
    "column": "B", "kq": 0.9, "interval": "5m",
    "stations": {"outlet": ["cod", "ph", "tss", "flow_out", "temperature"],
                 "inlet": ["cod", "flow_in"], "bypass": ["flow_bypass"]},
})
SETTINGS = (
    CheckSettings(),
    CheckSettings(stuck_readings=3, jump_steps={"ph": 3.0, "cod": 100.0},
                  compliance_stations=("outlet", "inlet")),
    CheckSettings(stuck_readings=4, stuck_exempt=("cod",), alert_bases=()),
)


Row = tuple[str, str, int, list[float], list[int]]


@st.composite
def rows_of(draw: st.DrawFn) -> list[Row]:
    palette = draw(st.one_of(
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=8, unique=True),
        st.sampled_from(QUIET)))
    codes = draw(st.sampled_from(((0,), (0, 0, 0, 0, 1, 2))))
    span = draw(st.sampled_from((20, 60, 400)))  # minutes: dense runs or long gaps
    row = st.tuples(
        st.sampled_from(("kim-bai", "kim-bai", "other")),
        st.sampled_from(STATIONS),
        st.integers(0, span),  # ties, disorder, gaps longer than 3 intervals
        st.lists(st.sampled_from(palette), min_size=len(KEYS), max_size=len(KEYS)),
        st.lists(st.sampled_from(codes), min_size=len(KEYS), max_size=len(KEYS)),
    )
    return draw(st.lists(row, max_size=80))


def frame_of(rows: list[Row], keys: int) -> pd.DataFrame:
    used = KEYS[:keys]
    columns: dict[str, object] = {
        "time": pd.DatetimeIndex([T0 + timedelta(minutes=m) for _, _, m, _, _ in rows]),
        "plant": [p for p, _, _, _, _ in rows],
        "station": [s for _, s, _, _, _ in rows],
    }
    for i, key in enumerate(used):
        columns[key] = np.array([v[i] for _, _, _, v, _ in rows], dtype=np.float64)
        columns[f"{key}_status"] = np.array([c[i] for _, _, _, _, c in rows], dtype=np.int64)
    return pd.DataFrame(columns)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_of(), keys=st.integers(1, len(KEYS)),
       which=st.integers(0, len(SETTINGS) - 1), sort=st.booleans())
def test_same_findings_as_the_full_checks(
    rows: list[Row], keys: int, which: int, sort: bool,
) -> None:
    frame = frame_of(rows, keys)
    if sort:
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    limits = plant_limits(PLANT, T0.date())
    checks = SETTINGS[which]
    assert instantaneous_findings(frame, PLANT, checks, limits) == \
        reference_findings(frame, PLANT, checks, limits)


def test_the_random_frames_reach_every_kind() -> None:
    """The generator above can produce each inline finding kind (else the comparison would
    prove little): one hand-made frame of its values holding all of them."""
    minutes = list(range(0, 60, 5))
    rows = [("kim-bai", "outlet", m, [200.0, 7.0 if m < 30 else 0.0, 50.0, 0.0, 50.0, 0.0,
                                      -1.0], [0, 0, 0, 0, 0, 0, 0]) for m in minutes]
    rows += [("kim-bai", "bypass", m, [0.0] * 5 + [3.0, 0.0], [0, 0, 0, 0, 0, 2, 0])
             for m in minutes]
    frame = frame_of(rows, len(KEYS))
    found = instantaneous_findings(frame, PLANT, SETTINGS[1], plant_limits(PLANT, T0.date()))
    kinds = {(f.station, f.parameter, f.kind) for f in found}
    assert ("outlet", "cod", "exceedance") in kinds  # 200 > 135
    assert ("outlet", "ph", "sensor_fault") in kinds  # jump 7 -> 0, stuck
    assert ("outlet", "tss", "sensor_fault") in kinds  # stuck 50
    assert ("outlet", "temperature", "sensor_fault") in kinds  # impossible
    assert ("bypass", "flow_bypass", "sensor_fault") in kinds  # status 02
    assert found == reference_findings(frame, PLANT, SETTINGS[1], plant_limits(PLANT, T0.date()))


def test_a_lone_jump_or_stuck_run_is_not_filtered_out() -> None:
    """Series valid and inside their limits whose only finding is a jump or a stuck run."""
    checks = SETTINGS[1]
    minutes = list(range(0, 30, 5))
    jump = [("kim-bai", "outlet", 0, [0.0, 5.6], [0, 0]),
            ("kim-bai", "outlet", 5, [134.0, 8.9], [0, 0])]
    stuck = [("kim-bai", "outlet", m, [51.0, 7.0], [0, 0]) for m in minutes]
    limits = plant_limits(PLANT, T0.date())
    found = instantaneous_findings(frame_of(jump, 2), PLANT, checks, limits)
    assert [(f.parameter, f.value) for f in found] == [("cod", 134.0), ("ph", 8.9 - 5.6)]
    found = instantaneous_findings(frame_of(stuck, 2), PLANT, checks, limits)
    assert [(f.parameter, f.value) for f in found] == [("cod", 51.0), ("ph", 7.0)]
