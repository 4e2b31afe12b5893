"""Hour results and volumes (what the scheduled checks keep for the console) and the chronic
non-compliance standing built on their monthly tallies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from rules.chronic import rank_key, standings
from rules.evaluate import evaluate
from rules.settings import CheckSettings, ChronicRule
from rules.summary import Tally, hourly_results

DAY0 = (2026, 10, 4, 17)  # 2026-10-05 00:00 in Hanoi


def test_hour_results_match_the_hourly_mean_check(frames: Any) -> None:
    start = frames.utc(*DAY0)
    cod = np.full(36, 100.0)
    cod[12:24] = 150.0  # second hour: mean 150 > 135
    status = np.zeros(36, dtype=np.int64)
    status[12] = 1  # a calibration reading in the second hour: excluded
    cod[12] = 900.0
    frame = frames.station(start, {"cod": cod, "ph": np.full(36, 4.4)}, status={"cod": status})
    plant = frames.plant()
    end = start + timedelta(hours=2, minutes=30)
    hours, volumes = hourly_results(frame, plant, CheckSettings(), start, end)
    cods = [h for h in hours if h.parameter == "cod"]
    assert [h.start for h in cods] == [start, start + timedelta(hours=1),
                                       start + timedelta(hours=2)]
    first, second, third = cods
    assert (first.day, first.whole, first.expected, first.valid, first.excluded) == (
        "2026-10-05", True, 12, 12, 0)
    assert (first.mean, first.low, first.high, first.limit_max) == (100.0, 100.0, 100.0, 135.0)
    assert (first.judged, first.over, first.ratio) == (True, False, pytest.approx(100 / 135))
    assert (second.valid, second.excluded, second.mean) == (11, 1, 150.0)
    assert (second.over, second.serious) == (True, False)  # 1.11 < 1.2
    assert (third.whole, third.expected, third.judged, third.over) == (False, 6, False, False)
    ph = next(h for h in hours if h.parameter == "ph")
    assert (ph.limit_min, ph.limit_max, ph.over) == (5.5, 9.0, True)
    assert ph.ratio == pytest.approx(5.5 / 4.4) and ph.serious  # 1.25 ≥ 1.2
    # The same verdicts as the hourly-mean check of the same range.
    found = evaluate(frame, plant, CheckSettings(), start, end, end).findings
    over = {(f.parameter, f.start.astimezone(start.tzinfo)) for f in found
            if f.basis == "hourly_mean" and f.kind in ("exceedance", "below_minimum")}
    assert over == {("cod", second.start), ("ph", ph.start)}
    assert volumes and all(v.inflow_m3 == 0 and not v.measured for v in volumes)


def test_volumes_add_up_to_the_treatment_row(frames: Any) -> None:
    start = frames.utc(*DAY0)
    n = 288
    frame = frames.combine(
        frames.station(start, {"flow_in": np.full(n, 62.5)}, station="inlet"),
        frames.station(start, {"flow_out": np.full(n, 60.0), "cod": np.r_[np.full(12, 200.0),
                                                                          np.full(n - 12, 50)]}),
    )
    plant = frames.plant(stations={"inlet": ["flow_in"], "outlet": ["flow_out", "cod"]})
    end = start + timedelta(days=1)
    _, volumes = hourly_results(frame, plant, CheckSettings(), start, end)
    (day, _month) = evaluate(frame, plant, CheckSettings(), start, end, end).treatment
    measured = [v for v in volumes if v.measured]
    assert len(volumes) == len(measured) == 24  # 55 of 60 min measured in the last hour
    assert sum(v.inflow_m3 for v in volumes) == pytest.approx(day.inflow_m3)
    compliant = sum(v.compliant_m3 for v in measured)
    assert compliant / sum(v.inflow_m3 for v in measured) == pytest.approx(day.compliant_ratio)
    assert volumes[0].compliant_m3 == 0.0  # the first hour's COD mean broke the limit
    assert sum(v.unmeasured_h for v in volumes) == pytest.approx(day.flow_gap_hours)


def _tally(plant: str, parameter: str, judged: int, over: int, serious: int) -> Tally:
    return Tally(plant, "outlet", parameter, "2026-10", judged, over, serious, 1.5, 0, 0, 0)


@pytest.mark.parametrize(("over", "serious", "chronic"), [
    (66, 0, True),   # ≥ 66 % of windows over the limit
    (65, 32, False),
    (40, 33, True),  # ≥ 33 % at the serious factor
])
def test_chronic_rule_shares(over: int, serious: int, chronic: bool) -> None:
    found = standings([_tally("a", "cod", 100, over, serious)], ChronicRule())
    assert found["a"].chronic is chronic
    assert found["a"].chronic_parameters == (("cod",) if chronic else ())


def test_chronic_is_per_parameter_and_ranks_worst_first() -> None:
    tallies = [_tally("a", "cod", 50, 20, 0), _tally("a", "cod", 50, 20, 0),  # 40 %: no
               _tally("a", "tss", 100, 10, 0),
               _tally("b", "cod", 100, 70, 10), _tally("c", "cod", 100, 90, 0),
               _tally("d", "cod", 0, 0, 0)]
    found = standings(tallies, ChronicRule())
    assert found["a"].over_share == pytest.approx(0.4) and not found["a"].chronic
    assert "d" not in found
    order = sorted(["a", "b", "c", "d"], key=lambda p: rank_key(found.get(p)))
    assert order == ["c", "b", "a", "d"]
    assert ChronicRule().factor("tss") == 1.4 and ChronicRule().factor("cod") == 1.2
