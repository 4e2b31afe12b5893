"""Every cluster scenario end to end on the real servers (issue 15): one plant-local day of a
whole cluster is backfilled through Mosquitto into the collector and InfluxDB, the daily jobs
judge the plants and then the cluster, and the check book's findings and ledger rows are
compared with the simulator's ground truth.

One collector serves the module; set QUANTRAC_CLUSTER_RESULTS=FILE to keep the comparison as
JSON (the figures of docs/scenario-results.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantrac.stack import LocalStack
from tests.integration.cluster_harness import RUNS, ClusterBench, bench_config, tag

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterBench]:
    work = tmp_path_factory.mktemp("clusters")
    suffix = uuid.uuid4().hex[:8]
    database = f"clusters_{suffix}"
    stack.create_database(database)
    bench = ClusterBench(bench_config(stack, database, work / "state", f"col-c{suffix}"), work)
    bench.start()
    try:
        yield bench
    finally:
        bench.stop()
        target = os.environ.get("QUANTRAC_CLUSTER_RESULTS")
        if target:
            bench.write_results(Path(target))


@pytest.mark.parametrize(("scenario", "cluster"), RUNS, ids=[tag(*run) for run in RUNS])
def test_findings_and_rows_match_the_ground_truth(bench: ClusterBench, scenario: str,
                                                  cluster: str) -> None:
    """Nothing lost; every expected episode found (a shortfall's note naming the member the
    truth names); nothing found beyond them; the frequent job's second judgement of the day
    (from the late marks of the backfill) gives the daily job's row."""
    run = bench.run(scenario, cluster)
    published = run.truth["published"]
    assert run.stored == published["records"] - published["duplicates"] > 0
    assert run.missed == [], run.missed
    assert run.extra == [], [(f.plant, f.kind, f.note) for f in run.extra]
    assert run.rejudged.to_json() == run.day.to_json()
    short = bool(run.shortfalls())
    assert short == any(e.finding == "collection_shortfall" for e in run.expected)
    # A shortfall day misses the target; so does a cluster without a central WWTP.
    if short:
        assert run.day.target_met is False
        assert {(a.kind, a.state) for a in run.alerts} >= {("collection_shortfall", "firing")}


def test_a_normal_day_of_kim_bai_meets_the_target(bench: ClusterBench) -> None:
    run = bench.run("normal", "kim-bai")
    assert run.findings == [] and run.alerts == []
    day = run.day
    assert day.target_met is True
    assert day.collection_ratio is not None and 0.95 <= day.collection_ratio <= 1.02
    # Generated = 3 metered factories + 270 m³/day declared (own_treatment's 60 excluded).
    assert 900 < day.generated_m3 < 1300 and day.collected_m3 > 0.95 * day.generated_m3


def test_illegal_discharge_names_the_factory_and_its_share(bench: ClusterBench) -> None:
    run = bench.run("illegal-discharge", "kim-bai")
    (finding,) = run.shortfalls()
    note = finding.explanation
    assert note is not None and note.culprit.endswith("kb-nhuom-mau")
    assert 0.3 <= note.culprit_share <= 0.5  # 40 % injected
    assert run.day.collection_ratio is not None and run.day.collection_ratio < 0.9


def test_factory_overload_is_an_exceedance_at_its_connection_not_a_shortfall(bench) -> None:
    run = bench.run("factory-overload", "kim-bai")
    hits = [f for f in run.findings if f.kind == "exceedance"]
    assert hits and {(f.station, f.parameter) for f in hits
                     if f.plant.endswith("kb-nhuom-mau")} == {("connection", "cod")}
    assert {f.limit for f in hits} == {150.0}  # the cluster's connection limit
    assert run.shortfalls() == [] and run.day.target_met is True


def test_no_central_plant_files_the_shortfall_under_the_cluster(bench: ClusterBench) -> None:
    run = bench.run("no-central-plant", "mau-b")
    (finding,) = run.shortfalls()
    assert finding.plant == run.layout.id  # no plant to name
    assert (run.day.collected_m3, run.day.collection_ratio, run.day.treatment_ratio) == (
        0.0, 0.0, 0.0)
    note = finding.explanation
    assert note is not None and not note.central and len(note.unconnected) == 3
    (alert,) = run.alerts
    assert (alert.plant, alert.cluster) == (run.layout.id, run.layout.id)
