"""Run options, plant selection and cloning, time modes, message order, ground truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from simulator.errors import SimulatorError
from simulator.run import (
    SimulateOptions,
    clone_plants,
    generate,
    plan_simulation,
    truth_document,
)
from simulator.truth import Published, write_truth


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": timedelta(0)}, "--duration"),
        ({"interval": timedelta(minutes=-5)}, "--interval"),
        ({"speed": 0.0}, "--speed"),
        ({"speed": 10.0, "backfill": True}, "exclusive"),
        ({"plants": 0}, "--plants"),
        ({"start": datetime(2026, 11, 23)}, "UTC offset"),
        ({"scenario": "cod-spike,bogus"}, "unknown scenario"),
    ],
)
def test_bad_options_raise_one_clear_error(changes, message):
    with pytest.raises(SimulatorError, match=message):
        SimulateOptions(**changes)


@pytest.mark.parametrize(
    ("changes", "mode"),
    [({}, "realtime"), ({"speed": 60.0}, "accelerated"), ({"backfill": True}, "backfill")],
)
def test_time_modes(changes, mode):
    assert SimulateOptions(**changes).mode == mode


def test_plant_selection(sim):
    plants = [sim.kim_bai(), sim.kim_bai(id="phu-nghia", cluster="phu-nghia")]
    plan = plan_simulation(plants, sim.options(plant="phu-nghia"))
    assert [p.id for p in plan.plants] == ["phu-nghia"]
    assert [p.id for p in plan_simulation(plants, sim.options()).plants] == [
        "kim-bai",
        "phu-nghia",
    ]
    with pytest.raises(SimulatorError, match=r"unknown plant 'nope'.*kim-bai, phu-nghia"):
        plan_simulation(plants, sim.options(plant="nope"))


def test_clones_get_distinct_ids_in_clusters_of_ten(sim):
    plants = clone_plants([sim.kim_bai()], 12)
    assert [p.id for p in plants[:3]] == ["kim-bai", "sim-002", "sim-003"]
    assert plants[0].cluster == "kim-bai"
    assert [p.cluster for p in plants[1:]] == ["sim-c01"] * 9 + ["sim-c02"] * 2
    assert len({(p.cluster, p.id) for p in plants}) == 12
    assert all(p.stations == plants[0].stations for p in plants)
    assert [p.id for p in clone_plants([sim.kim_bai(), sim.kim_bai(id="b")], 1)] == ["kim-bai"]


def test_many_plants_are_merged_in_time_order(sim, plant):
    messages = sim.run([plant], plants=5, duration=timedelta(hours=1))
    times = [m.at for m in messages]
    assert times == sorted(times)
    topics = {m.topic.split("/")[3] for m in messages}
    assert topics == {"kim-bai", "sim-002", "sim-003", "sim-004", "sim-005"}
    assert len(messages) == 5 * 12 * 3


def test_interval_overrides_the_plant_interval(sim, plant):
    messages = sim.run([plant], interval=timedelta(minutes=1), duration=timedelta(hours=1))
    outlet = sim.readings(messages, "outlet")
    assert len(outlet) == 60
    assert outlet[1].ts - outlet[0].ts == timedelta(minutes=1)


def test_records_carry_the_plant_offset_and_sequence(sim, plant):
    messages = sim.run([plant], duration=timedelta(hours=1))
    first = sim.doc(messages[0])
    assert first["ts"] == "2026-11-23T00:00:00+07:00"
    assert first["seq"] == 1
    outlet = sim.readings(messages, "outlet")
    assert [r.seq for r in outlet] == list(range(1, 13))


def test_default_start_per_mode(sim, plant):
    now = datetime(2026, 11, 23, 3, 7, 31, 500, tzinfo=UTC)
    backfill = plan_simulation([plant], SimulateOptions(backfill=True), now=now)
    assert backfill.start == datetime(2026, 11, 22, 21, 5, tzinfo=UTC)
    assert backfill.end <= now
    realtime = plan_simulation([plant], SimulateOptions(), now=now)
    assert realtime.start == now.replace(microsecond=0)
    accelerated = plan_simulation([plant], SimulateOptions(speed=60), now=now)
    assert accelerated.start == datetime(2026, 11, 23, 3, 5, tzinfo=UTC)


def test_truth_document(sim, plant, tmp_path):
    options = sim.options(scenario="cod-spike,malformed")
    plan = plan_simulation([plant], options)
    messages = list(generate([plant], options))
    published = Published(
        messages=len(messages),
        records=sum(m.records for m in messages),
        malformed=sum(m.kind == "malformed" for m in messages),
    )
    path = tmp_path / "out" / "truth.json"
    write_truth(path, truth_document(plan, published))
    doc = json.loads(path.read_text())
    assert doc["seed"] == 42
    assert doc["scenario"] == "cod-spike,malformed"
    assert doc["start"] == "2026-11-23T00:00:00+07:00"
    assert doc["end"] == "2026-11-23T06:00:00+07:00"
    assert doc["plants"][0]["id"] == "kim-bai"
    spike = next(e for e in doc["episodes"] if e["kind"] == "cod-spike")
    assert spike == {
        "plant": "kim-bai",
        "station": "outlet",
        "parameter": "cod",
        "kind": "cod-spike",
        "start": "2026-11-23T01:00:00+07:00",
        "end": "2026-11-23T03:00:00+07:00",
        "expected_finding": "exceedance",
        "note": spike["note"],
    }
    assert sum(e["kind"] == "malformed" for e in doc["episodes"]) == 7
    assert doc["published"] == {
        "messages": 216 + 7,
        "records": 216,
        "malformed": 7,
        "duplicates": 0,
    }


def test_truth_write_failure_is_a_simulator_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SimulatorError, match="cannot write truth file"):
        write_truth(blocker / "truth.json", {})
