"""`--cluster`: a whole cluster simulated consistently, and each cluster scenario's truth
checked against the rules (simulator → readings → rules.collection / rules.evaluate, and
`quantrac check --csv` for the command line). No broker: the generator's bytes are read back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collector.payload import parse_message
from quantrac.cli import main
from quantrac.config import Config, load_config
from rules.collection import cluster_ledger
from rules.evaluate import evaluate
from rules.settings import CheckSettings
from simulator.errors import SimulatorError
from simulator.run import (
    Message,
    SimulateOptions,
    SimulationPlan,
    generate,
    plan_simulation,
    truth_document,
)
from simulator.truth import Published

PROVINCE = Path(__file__).resolve().parents[2] / "deploy" / "etc" / "quantrac" / "province.toml"
DAY = timedelta(hours=24)


@pytest.fixture(scope="module")
def province() -> Config:
    return load_config(PROVINCE, env={})


def simulate(sim: Any, config: Config, cluster: str, scenario: str = "normal",
             duration: timedelta = DAY, seed: int = 11
             ) -> tuple[SimulationPlan, list[Message], SimulateOptions]:
    options = sim.options(cluster=cluster, scenario=scenario, duration=duration, seed=seed)
    plan = plan_simulation(config.plants, options, clusters=config.layouts())
    return plan, list(generate(config.plants, options, clusters=config.layouts())), options


def frames_of(messages: Sequence[Message]) -> dict[str, pd.DataFrame]:
    rows = [{"time": r.ts, "plant": r.plant, "station": r.station, **r.values}
            for m in messages for r in parse_message(m.topic, m.payload)]
    frame = pd.DataFrame(rows)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return {str(plant): part.reset_index(drop=True) for plant, part in frame.groupby("plant")}


def ledger(plan: SimulationPlan, frames: dict[str, pd.DataFrame]) -> Any:
    assert plan.cluster is not None
    return cluster_ledger(plan.cluster, frames, CheckSettings(), plan.start, plan.end, plan.end)


def hourly(frame: pd.DataFrame, station: str, key: str) -> pd.Series:
    rows = frame[frame["station"] == station].set_index("time")[key]
    return rows.resample("1h").mean()


def test_the_cluster_publishes_its_central_plant_and_metered_factories(sim, province):
    _plan, messages, _ = simulate(sim, province, "kim-bai", duration=timedelta(hours=2))
    topics = {m.topic for m in messages}
    assert {t.split("/")[3] for t in topics} == {
        "kim-bai", "kb-nhuom-mau", "kb-thuc-pham-mau", "kb-xi-ma-mau"}
    assert "quantrac/v1/kim-bai/kb-nhuom-mau/connection/data" in topics
    assert [m.at for m in messages] == sorted(m.at for m in messages)
    assert len(messages) == 2 * 12 * (3 + 3)  # 24 steps × (3 plant stations + 3 factories)
    again = [m.payload for m in generate(province.plants, sim.options(
        cluster="kim-bai", duration=timedelta(hours=2), seed=11), clusters=province.layouts())]
    assert again == [m.payload for m in messages]  # same seed, same bytes


def test_volumes_add_up_through_the_network(sim, province):
    plan, messages, _ = simulate(sim, province, "kim-bai")
    frames = frames_of(messages)
    links = {link.member: link for link in plan.links}
    assert set(links) == {"kb-nhuom-mau", "kb-thuc-pham-mau", "kb-xi-ma-mau", "kb-may-mau",
                          "kb-co-khi-mau"}  # own_treatment kb-go-mau sends nothing
    assert all(timedelta(minutes=10) <= link.delay <= timedelta(minutes=45)
               and 0.005 <= link.loss <= 0.02 for link in links.values())
    metered = sum(hourly(frames[f], "connection", "flow_out").sum() * (1 - links[f].loss)
                  for f in ("kb-nhuom-mau", "kb-thuc-pham-mau", "kb-xi-ma-mau"))
    declared = sum(q * (1 - links[f].loss) for f, q in (("kb-may-mau", 150), ("kb-co-khi-mau",
                                                                            120)))
    inflow = hourly(frames["kim-bai"], "inlet", "flow_in").sum()
    # what arrives = what was sent less the losses; the day's edges move < 1 % across midnight
    assert inflow == pytest.approx(metered + declared, rel=0.02)
    day = ledger(plan, frames).rows[0]
    assert day.collection_ratio == pytest.approx(1.0, abs=0.03)
    assert day.target_met is True


def test_the_plant_sees_a_factory_after_its_travel_time(sim, province):
    plan, messages, _ = simulate(sim, province, "kim-bai", "factory-overload")
    frames = frames_of(messages)
    overload = next(e for e in plan.episodes if e.kind == "factory-overload"
                    and e.station == "connection")
    link = next(link for link in plan.links if link.member == overload.plant)
    inlet = frames["kim-bai"][frames["kim-bai"]["station"] == "inlet"].set_index("time")["cod"]
    near = inlet[(inlet.index >= overload.start - 2 * sim.HOUR)
                 & (inlet.index < overload.end + 3 * sim.HOUR)]
    baseline = near[near.index < overload.start].median()
    risen = near[near > 1.3 * baseline]
    assert len(risen) > 0
    # the first clearly raised inlet COD comes after the factory's travel time
    assert risen.index[0] >= overload.start + link.delay
    assert risen.index[0] <= overload.start + link.delay + timedelta(minutes=30)
    assert risen.index[-1] <= overload.end + link.delay + timedelta(minutes=15)


@pytest.mark.parametrize(("cluster", "scenario", "named"), [
    ("kim-bai", "illegal-discharge", "kb-nhuom-mau"),
    ("kim-bai", "unconnected-factory", "kb-xi-ma-mau"),
    ("mau-b", "no-central-plant", "mb-bia-mau"),
    ("mau-c", "normal", "mc-da-mau"),  # a not_connected member is a standing shortfall
])
def test_collection_scenarios_are_found(sim, province, cluster, scenario, named):
    plan, messages, _ = simulate(sim, province, cluster, scenario)
    expected = [e for e in plan.episodes if e.expected_finding == "collection_shortfall"]
    assert expected
    result = ledger(plan, frames_of(messages))
    day = next(r for r in result.rows if len(r.date) == 10)
    (finding,) = [f for f in result.findings if f.basis == "day"]
    central = plan.cluster.central.id if plan.cluster and plan.cluster.central else cluster
    assert (finding.kind, finding.plant, finding.station) == (
        "collection_shortfall", central, "network")
    assert named in finding.note
    assert day.target_met is False
    if scenario == "no-central-plant":
        assert (day.collection_ratio, day.treatment_ratio) == (0.0, 0.0)


def test_normal_kim_bai_meets_the_target_and_overload_is_an_exceedance(sim, province):
    plan, messages, _ = simulate(sim, province, "kim-bai", "factory-overload")
    frames = frames_of(messages)
    assert not ledger(plan, frames).findings
    (expected,) = [e for e in plan.episodes if e.expected_finding]
    factory = province.plant(expected.plant)
    findings = evaluate(frames[factory.id], factory, CheckSettings(), plan.start, plan.end,
                        plan.end).findings
    judged = [f for f in findings if f.kind in ("exceedance", "below_minimum")]
    assert judged and all((f.station, f.parameter) == ("connection", "cod") for f in judged)
    assert all(f.start < expected.end and f.end > expected.start for f in judged)
    central = evaluate(frames["kim-bai"], province.plant("kim-bai"), CheckSettings(),
                       plan.start, plan.end, plan.end).findings
    assert not central  # the plant treats the extra load; its inlet is not judged


def test_truth_names_the_cluster_its_links_and_episodes(sim, province):
    plan, messages, _ = simulate(sim, province, "kim-bai", "illegal-discharge",
                                 duration=timedelta(hours=6))
    doc = json.loads(json.dumps(truth_document(plan, Published(messages=len(messages)))))
    cluster = doc["cluster"]
    assert (cluster["id"], cluster["central_plant"]) == ("kim-bai", "kim-bai")
    members = {m["id"]: m for m in cluster["members"]}
    assert members["kb-go-mau"]["connection"] == "own_treatment"
    assert members["kb-go-mau"]["travel_minutes"] is None
    assert members["kb-nhuom-mau"]["metered"] is True
    assert 10 <= members["kb-nhuom-mau"]["travel_minutes"] <= 45
    (episode,) = doc["episodes"]
    assert (episode["plant"], episode["kind"], episode["expected_finding"]) == (
        "kb-nhuom-mau", "illegal-discharge", "collection_shortfall")
    assert episode["start"] == "2026-11-23T00:00:00+07:00"


@pytest.mark.parametrize(("changes", "message"), [
    ({"cluster": "kim-bai", "plant": "kim-bai"}, "exclusive"),
    ({"cluster": "kim-bai", "plants": 3}, "does not combine"),
    ({"scenario": "illegal-discharge"}, "give --cluster"),
    ({"cluster": "nowhere"}, "unknown cluster 'nowhere'"),
    ({"cluster": "kim-bai", "scenario": "no-central-plant"}, "needs a cluster without"),
    ({"cluster": "mau-b", "scenario": "unconnected-factory"}, "needs a central plant"),
    ({"cluster": "mau-b", "scenario": "cod-spike"}, "applies to the central plant"),
])
def test_bad_cluster_runs_are_refused(sim, province, changes, message):
    with pytest.raises(SimulatorError, match=message):
        options = sim.options(**changes)
        plan_simulation(province.plants, options, clusters=province.layouts())


def test_check_csv_reports_the_cluster_rows(sim, province, tmp_path, capsys):
    """simulate → CSV → `quantrac check --csv --json`: the command line's view of a scenario."""
    plan, messages, _ = simulate(sim, province, "kim-bai", "unconnected-factory")
    frame = pd.concat(frames_of(messages).values(), ignore_index=True)
    frame["time"] = frame["time"].dt.tz_convert("Asia/Ho_Chi_Minh")
    csv = tmp_path / "kim-bai.csv"
    frame.sort_values("time").to_csv(csv, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    code = main(["check", "--config", str(PROVINCE), "--csv", str(csv), "--plant", "kim-bai",
                 "--from", plan.start.isoformat(), "--to", plan.end.isoformat(), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    rows = [r for r in doc["clusters"] if r["date"] == "2026-11-23"]
    assert len(rows) == 1 and rows[0]["cluster"] == "kim-bai"
    assert rows[0]["collection_ratio"] < 0.95 and rows[0]["target_met"] is False
    shortfalls = [f for f in doc["findings"] if f["kind"] == "collection_shortfall"]
    assert [(f["plant"], f["basis"]) for f in shortfalls] == [("kim-bai", "day")]
    assert "kb-xi-ma-mau" in shortfalls[0]["note"]
    assert np.isfinite(rows[0]["generated_m3"]) and rows[0]["generated_m3"] > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--cluster", "nowhere"], "unknown cluster 'nowhere' (configured: kim-bai, mau-b, mau-c)"),
    (["--cluster", "mau-b", "--scenario", "illegal-discharge"], "needs a central plant"),
    (["--scenario", "unconnected-factory"], "give --cluster"),
])
def test_simulate_cluster_usage_errors_exit_2(capsys, argv, message):
    code = main(["simulate", "--config", str(PROVINCE), "--backfill", *argv])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
