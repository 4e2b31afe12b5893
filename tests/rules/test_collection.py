"""The cluster ledger: generated vs collected vs compliantly treated, on hand-built frames."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rules.cluster import Cluster, ClusterLayout, cluster_layouts
from rules.collection import cluster_ledger, month_to_date
from rules.findings import CollectionNote
from rules.permit import Plant
from rules.settings import CheckSettings
from rules.vocabulary import Vocabulary

HANOI = "Asia/Ho_Chi_Minh"
START = datetime(2026, 10, 4, 17, tzinfo=UTC)  # 2026-10-05 00:00 in Hanoi
N = 288  # 5-minute readings of one day
H = 24 - 5 / 60  # hours a day of 00:00..23:55 readings covers (the last step is not in range)


def plant(**changes: Any) -> Plant:
    base: dict[str, Any] = {
        "id": "kb", "cluster": "kb", "name": "Kim Bai WWTP", "timezone": HANOI,
        "design_flow_m3_day": 1500, "kq": 0.9, "interval": "5m",
        "stations": {"inlet": ["flow_in"], "outlet": ["flow_out", "cod"]},
    }
    base.update(changes)
    return Plant.model_validate(base)


def factory(fid: str, **changes: Any) -> Plant:
    base: dict[str, Any] = {
        "id": fid, "cluster": "kb", "name": fid, "timezone": HANOI, "kind": "factory",
        "discharges_to": "kb", "design_flow_m3_day": 300, "interval": "5m",
        "stations": {"connection": ["flow_out", "cod"]}, "limits": {"cod": 150},
    }
    base.update(changes)
    return Plant.model_validate(base)


def layout(declared: Sequence[tuple[str, str, float]] = (("d1", "connected", 48.0),),
           central: bool = True, metered: Sequence[Plant] | None = None,
           interval: str = "5m") -> ClusterLayout:
    plants = ([plant(interval=interval)] if central else []) + list(
        metered if metered is not None
        else [factory("f1", interval=interval), factory("f2", interval=interval)])
    entry = Cluster.model_validate({
        "id": "kb", "name": "Kim Bai", "province": "Hà Nội",
        "central_plant": "kb" if central else None,
        "factories": [{"id": i, "name": i, "connection": c, "declared_flow_m3_day": q}
                      for i, c, q in declared]})
    return cluster_layouts([entry], plants)[0]


def rows(plant_id: str, station: str, values: Mapping[str, Any], n: int = N,
         start: datetime = START, step: timedelta = timedelta(minutes=5)) -> pd.DataFrame:
    frame = pd.DataFrame({"time": pd.date_range(start, periods=n, freq=step),
                          "plant": plant_id, "station": station})
    for key, value in values.items():
        frame[key] = np.broadcast_to(np.asarray(value, dtype=np.float64), n).copy()
        frame[f"{key}_status"] = np.zeros(n, dtype=np.int64)
    return frame


def day_frames(f1: Any = 10.0, f2: Any = 5.0, inflow: Any = 17.0, outflow: Any = 17.0,
               cod: Any = 60.0) -> dict[str, pd.DataFrame]:
    return {
        "kb": pd.concat([rows("kb", "inlet", {"flow_in": inflow}),
                         rows("kb", "outlet", {"flow_out": outflow, "cod": cod})]),
        "f1": rows("f1", "connection", {"flow_out": f1, "cod": 90.0}),
        "f2": rows("f2", "connection", {"flow_out": f2, "cod": 90.0}),
    }


def run(cluster: ClusterLayout, frames: Mapping[str, pd.DataFrame], days: int = 1,
        settings: CheckSettings | None = None) -> Any:
    return cluster_ledger(cluster, frames, settings or CheckSettings(), START,
                          START + timedelta(days=days), now=START + timedelta(days=days + 1))


def gapped(value: float, first: int, last: int) -> np.ndarray:
    series = np.full(N, value)
    series[first:last] = np.nan
    return series


GENERATED = 15.0 * H + 48.0  # f1 + f2 metered over their covered hours, d1 declared all day

# (name, frames changes, declared members, expected collection ratio, shortfall, target met)
CASES: list[tuple[str, dict[str, Any], Sequence[tuple[str, str, float]], float, bool, bool]] = [
    ("balanced", {}, (("d1", "connected", 48.0),), 17.0 * H / GENERATED, False, True),
    ("3 m³/h never arrive", {"inflow": 14.0, "outflow": 14.0}, (("d1", "connected", 48.0),),
     14.0 * H / GENERATED, True, False),
    ("within the 5 % tolerance", {"inflow": 16.4, "outflow": 16.4},
     (("d1", "connected", 48.0),), 16.4 * H / GENERATED, False, True),
    ("own_treatment members are not the network's", {},
     (("d1", "connected", 48.0), ("d3", "own_treatment", 500.0)), 17.0 * H / GENERATED, False,
     True),
    ("a not_connected member is a shortfall at any volume", {"inflow": 17.0},
     (("d1", "connected", 48.0), ("d2", "not_connected", 2.4)),
     17.0 * H / (GENERATED + 2.4), True, False),
    ("a non-compliant plant hour misses the target but is no collection shortfall",
     {"cod": np.where(np.arange(N) // 12 == 10, 400.0, 60.0)}, (("d1", "connected", 48.0),),
     17.0 * H / GENERATED, False, False),
]


@pytest.mark.parametrize(("name", "changes", "declared", "ratio", "short", "met"), CASES,
                         ids=[case[0] for case in CASES])
def test_day_ledger(name: str, changes: dict[str, Any], declared: Sequence[tuple[str, str, float]],
                    ratio: float, short: bool, met: bool) -> None:
    result = run(layout(declared), day_frames(**changes))
    day, month = result.rows
    assert (day.cluster, day.date, month.date) == ("kb", "2026-10-05", "2026-10")
    assert day.collection_ratio == pytest.approx(ratio, rel=1e-6)
    assert day.target_met is met
    assert month.target_met is None  # a partial month is shown, not judged
    found = [f for f in result.findings if f.kind == "collection_shortfall"]
    assert [f.basis for f in found] == (["day"] if short else [])
    if short:
        (finding,) = found
        assert (finding.plant, finding.station, finding.parameter) == (
            "kb", "network", "collection_ratio")
        assert finding.value == pytest.approx(ratio, rel=1e-6)
        assert finding.start.isoformat() == "2026-10-05T00:00:00+07:00"
        assert finding.end.isoformat() == "2026-10-06T00:00:00+07:00"
        assert "generated" in finding.note and "collected" in finding.note
        assert finding.to_json()["note"] == finding.note


def test_volumes_and_json_row() -> None:
    result = run(layout(), day_frames(cod=np.where(np.arange(N) // 12 == 10, 400.0, 60.0)))
    day = result.rows[0]
    assert day.generated_m3 == pytest.approx(GENERATED)
    assert day.collected_m3 == pytest.approx(17.0 * H)
    assert day.treated_compliant_m3 == pytest.approx(17.0 * (H - 1))  # hour 10 over the limit
    assert day.treatment_ratio == pytest.approx(17.0 * (H - 1) / GENERATED)
    assert list(day.to_json()) == ["cluster", "date", "generated_m3", "collected_m3",
                                   "treated_compliant_m3", "collection_ratio",
                                   "treatment_ratio", "target_met"]


@pytest.mark.parametrize("who", ["f1", "inlet"])
def test_meter_gaps_are_not_a_shortfall(who: str) -> None:
    # Three silent hours (08:00-11:00): those hours leave the ratios instead of looking short.
    frames = day_frames(f1=gapped(10.0, 96, 132) if who == "f1" else 10.0,
                        inflow=gapped(17.0, 96, 132) if who == "inlet" else 17.0)
    result = run(layout(), frames)
    day = result.rows[0]
    assert not result.findings
    # Hours 08-10 leave the ratios; 07:55-08:00 (the step into the gap) is not bridged either.
    step = 5 / 60
    generated = 15.0 * (H - 3) + 48 * 21 / 24 - (10.0 * step if who == "f1" else 0.0)
    collected = 17.0 * (H - 3) - (17.0 * step if who == "inlet" else 0.0)
    assert day.collection_ratio == pytest.approx(collected / generated)
    silent = 3 + step
    if who == "f1":
        assert day.generated_m3 == pytest.approx(GENERATED - 10.0 * silent)
    else:
        assert day.collected_m3 == pytest.approx(17.0 * (H - silent))
    assert day.target_met is True


def test_the_factory_whose_water_goes_missing_is_named() -> None:
    # f1 varies hour by hour, f2 is steady; half of f1's discharge never reaches the plant,
    # which receives everything else 30 minutes later (the network's travel time).
    t = np.arange(N + 6)
    f1 = 10.0 + 6.0 * np.sin(t / 20.0) + 3.0 * (t // 24 % 2)
    f2 = np.full(N + 6, 5.0)
    arrived = 0.5 * f1 + f2 + 2.0
    inflow = np.concatenate([np.full(6, arrived[0]), arrived[:-6]])[:N]
    frames = {
        "kb": pd.concat([rows("kb", "inlet", {"flow_in": inflow}),
                         rows("kb", "outlet", {"flow_out": inflow, "cod": 60.0})]),
        "f1": rows("f1", "connection", {"flow_out": f1[:N], "cod": 90.0}),
        "f2": rows("f2", "connection", {"flow_out": f2[:N], "cod": 90.0}),
    }
    (finding,) = run(layout(), frames).findings
    share = re.search(r"f1 explains it: about (\d+) % of its metered discharge", finding.note)
    assert share is not None and 45 <= int(share.group(1)) <= 55, finding.note
    # A loss spread over the whole network names nobody.
    frames["kb"] = pd.concat([rows("kb", "inlet", {"flow_in": 0.8 * (f1[:N] + f2[:N] + 2.0)}),
                              rows("kb", "outlet", {"flow_out": 17.0, "cod": 60.0})])
    (finding,) = run(layout(), frames).findings
    assert "explains it" not in finding.note
    assert "whole network" in finding.note


def test_a_not_connected_member_is_named() -> None:
    result = run(layout((("d1", "connected", 48.0), ("d2", "not_connected", 24.0))),
                 day_frames(inflow=18.0))
    (finding,) = result.findings
    assert "not connected: d2 (24 m³)" in finding.note


def test_a_cluster_without_a_central_plant() -> None:
    metered = [factory("f1", discharges_to=None, connection="not_connected")]
    cluster = layout((("d1", "connected", 0.0),), central=False, metered=metered)
    result = run(cluster, {"f1": rows("f1", "connection", {"flow_out": 10.0, "cod": 90.0})})
    day = result.rows[0]
    assert (day.generated_m3, day.collected_m3) == (pytest.approx(10.0 * H), 0.0)
    assert (day.collection_ratio, day.treatment_ratio, day.target_met) == (0.0, 0.0, False)
    (finding,) = result.findings
    assert (finding.plant, finding.value) == ("kb", 0.0)  # the cluster id: there is no plant
    assert "no central WWTP" in finding.note


def test_days_are_plant_local() -> None:
    # f1 doubles at 17:00 UTC = midnight in Hanoi: each local day sees one rate only.
    n = 2 * N
    f1 = np.where(np.arange(n) < N, 10.0, 20.0)
    frames = {
        "kb": pd.concat([rows("kb", "inlet", {"flow_in": f1 + 7.0}, n=n),
                         rows("kb", "outlet", {"flow_out": f1 + 7.0, "cod": 60.0}, n=n)]),
        "f1": rows("f1", "connection", {"flow_out": f1, "cod": 90.0}, n=n),
        "f2": rows("f2", "connection", {"flow_out": 5.0, "cod": 90.0}, n=n),
    }
    result = run(layout(), frames, days=2)
    first, second = (r for r in result.rows if len(r.date) == 10)
    assert (first.date, second.date) == ("2026-10-05", "2026-10-06")
    # day 1 bridges into day 2 across midnight (the 23:55 → 00:00 step carries the old rate)
    assert first.generated_m3 == pytest.approx(10.0 * H + 15.0 * 5 / 60 + 5.0 * 24 + 48.0)
    assert second.generated_m3 == pytest.approx(20.0 * H + 5.0 * H + 48.0)


def test_month_rows_and_month_findings() -> None:
    cluster = layout(interval="1h")
    start = datetime(2026, 9, 30, 17, tzinfo=UTC)  # 2026-10-01 00:00 in Hanoi
    n = 31 * 24 + 1
    step = timedelta(hours=1)
    frames = {
        "kb": pd.concat([rows("kb", "inlet", {"flow_in": 12.0}, n, start, step),
                         rows("kb", "outlet", {"flow_out": 12.0, "cod": 60.0}, n, start, step)]),
        "f1": rows("f1", "connection", {"flow_out": 10.0, "cod": 90.0}, n, start, step),
        "f2": rows("f2", "connection", {"flow_out": 5.0, "cod": 90.0}, n, start, step),
    }
    result = cluster_ledger(cluster, frames, CheckSettings(), start,
                            start + timedelta(days=31), now=start + timedelta(days=40))
    month = [r for r in result.rows if r.date == "2026-10"]
    assert len(month) == 1 and len(result.rows) == 32
    assert month[0].collection_ratio == pytest.approx(12.0 / 17.0, rel=1e-3)
    assert month[0].target_met is False
    assert [f.basis for f in result.findings].count("month") == 1
    assert [f.basis for f in result.findings].count("day") == 31


def test_nothing_before_now_and_nothing_generated() -> None:
    cluster = layout(declared=(), metered=[])
    result = cluster_ledger(cluster, day_frames(), CheckSettings(), START,
                            START + timedelta(days=1), now=START)
    assert result.rows == [] and result.findings == []
    day = run(cluster, day_frames()).rows[0]
    assert (day.generated_m3, day.collection_ratio, day.target_met) == (0.0, None, None)


def test_a_factory_over_its_connection_limit_is_an_ordinary_exceedance() -> None:
    from rules.evaluate import evaluate
    from rules.limits import plant_limits
    from tests.rules.inline_reference import instantaneous_findings

    member = factory("f1")
    cod = np.where(np.arange(N) // 12 == 9, 300.0, 90.0)  # hour 09 at 2x the limit of 150
    cod = cod + 0.1 * (np.arange(N) % 7)  # not stuck
    frame = rows("f1", "connection", {"flow_out": 10.0 + 0.1 * (np.arange(N) % 5), "cod": cod})
    result = evaluate(frame, member, CheckSettings(), START, START + timedelta(days=1),
                      now=START + timedelta(days=2))
    judged = [(f.station, f.parameter, f.basis, f.start.hour, f.limit) for f in result.findings
              if f.kind == "exceedance"]
    assert ("connection", "cod", "hourly_mean", 9, 150.0) in judged
    assert result.treatment == []  # a factory's water counts in its cluster's ledger instead
    limits = plant_limits(member, START.date())
    inline = instantaneous_findings(frame, member, CheckSettings(), limits)
    assert {(f.station, f.kind) for f in inline} == {("connection", "exceedance")}


def test_days_add_up_to_the_month_to_date_row() -> None:
    # Two days with a silent meter, a non-compliant hour and a short second day: the month
    # row made from the day rows equals the ledger's own row over the same two days.
    n = 2 * N
    inflow = np.where(np.arange(n) < N, 17.0, 13.0)
    inflow[100:130] = np.nan
    cod = np.where(np.arange(n) // 12 == 30, 400.0, 60.0)
    frames = {
        "kb": pd.concat([rows("kb", "inlet", {"flow_in": inflow}, n=n),
                         rows("kb", "outlet", {"flow_out": 17.0, "cod": cod}, n=n)]),
        "f1": rows("f1", "connection", {"flow_out": 10.0, "cod": 90.0}, n=n),
        "f2": rows("f2", "connection", {"flow_out": 5.0, "cod": 90.0}, n=n),
    }
    result = run(layout(), frames, days=2)
    days = [r for r in result.rows if len(r.date) == 10]
    (month,) = [r for r in result.rows if len(r.date) == 7]
    added = month_to_date(days, "kb", "2026-10", central=True)
    for name in ("generated_m3", "collected_m3", "treated_compliant_m3", "collection_ratio",
                 "treatment_ratio", "measured_generated_m3", "judged_compliant_m3"):
        assert getattr(added, name) == pytest.approx(getattr(month, name), rel=1e-12), name
    assert added.target_met is None and added.to_json().keys() == month.to_json().keys()
    # Without a central plant nothing is treated: the ratio is 0, not unknown.
    assert month_to_date(days, "kb", "2026-10", central=False).treatment_ratio == 0.0


def test_the_note_reads_in_both_languages() -> None:
    result = run(layout((("d1", "connected", 48.0), ("d2", "not_connected", 24.0))),
                 day_frames(inflow=18.0))
    (finding,) = result.findings
    assert finding.explanation is not None
    vi = Vocabulary.for_lang("vi").collection_note(finding.explanation)
    assert "chưa đấu nối: d2 (24 m³)" in vi and "thu gom về trạm" in vi
    assert Vocabulary.for_lang("en").collection_note(finding.explanation) == finding.note
    assert CollectionNote.from_json(finding.explanation.to_json()) == finding.explanation
