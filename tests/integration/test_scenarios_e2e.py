"""Every simulator scenario end to end on the real servers (issue 4): a whole plant-local day is
backfilled through Mosquitto into the collector and InfluxDB, judged by the collector's windowed
check, and the findings are compared with the simulator's ground truth.

One collector serves the module (one plant per scenario); set QUANTRAC_SCENARIO_RESULTS=FILE to
keep the per-scenario comparison as JSON (the figures of docs/scenario-results.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from quantrac.stack import LocalStack
from rules.findings import Finding
from simulator.run import SimulateOptions, generate
from simulator.scenarios import SCENARIOS
from tests.integration.scenario_harness import (
    PERIOD,
    PERIOD_START,
    SEED,
    ScenarioBench,
    ScenarioRun,
    bench_config,
)

pytestmark = pytest.mark.integration

# Scenarios whose truth expects no finding at all: the monitor must stay silent.
QUIET = ("normal", "calibration", "clock-skew", "link-outage", "duplicates", "malformed")
# A plant (`e2e-normal-3`) whose normal Monday the monitor misjudges (see its test).
MONDAY_VARIANT = "-3"
LIVE_VARIANT = "-live"  # paced publishing: a few records per ingested batch, as in operation


@pytest.fixture(scope="module")
def bench(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioBench]:
    work = tmp_path_factory.mktemp("scenarios")
    prefix = f"s{uuid.uuid4().hex[:8]}"
    database = f"scenarios_{prefix}"
    stack.create_database(database)
    plants = [(scenario, "") for scenario in SCENARIOS]
    plants += [("normal", MONDAY_VARIANT), ("stuck-sensor", LIVE_VARIANT)]
    config = bench_config(stack, database, work / "state", prefix, plants)
    bench = ScenarioBench(config, work)
    bench.start()
    try:
        yield bench
    finally:
        bench.stop()
        target = os.environ.get("QUANTRAC_SCENARIO_RESULTS")
        if target:
            bench.write_results(Path(target))


def _series(run: ScenarioRun, bench: ScenarioBench, station: str) -> pd.DataFrame:
    frame = bench.collector.store.read_frame(run.plant.id, PERIOD_START, bench.end)
    return frame[frame["station"] == station]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_findings_match_the_ground_truth(bench: ScenarioBench, scenario: str) -> None:
    """Every expected episode is found; no compliance finding falls outside the episodes;
    every valid record is stored exactly once and every bad input is dead-lettered."""
    run = bench.run(scenario)
    published = run.truth["published"]
    assert published["records"] > 0
    assert run.stored == published["records"] - published["duplicates"]
    assert len(run.dead_letters) == published["malformed"]
    comparison = run.comparison
    assert comparison.missed == [], comparison.missed
    assert comparison.extra_compliance == [], comparison.extra_compliance
    assert comparison.extra == [], comparison.extra
    if scenario in QUIET:
        assert run.findings == []
        assert comparison.expected == []
    else:
        assert comparison.matched == comparison.expected != []
    # The frequent job judging the backfilled day from its late mark agrees with the review.
    assert _keys(run.scheduled) == _keys(run.findings)


def _keys(findings: list[Finding]) -> list[tuple[object, ...]]:
    return sorted((f.station, f.parameter, f.kind, f.basis, f.start, f.end) for f in findings)


def test_normal_day_reports_nothing_and_raises_no_alert(bench: ScenarioBench) -> None:
    run = bench.run("normal")
    assert run.findings == []
    assert run.alerts == []
    assert run.stored == 3 * 288  # inlet, outlet, bypass: one record per 5 min


def test_cod_spike_is_a_major_hourly_exceedance_over_the_episode(bench: ScenarioBench) -> None:
    run = bench.run("cod-spike")
    (episode,) = [e for e in run.episodes if e.expected_finding]
    hits = [f for f in run.findings if f.parameter == "cod" and f.kind == "exceedance"]
    assert {f.basis for f in hits} == {"hourly_mean"}
    assert min(f.start for f in hits) == episode.start
    assert max(f.end for f in hits) == episode.end
    assert all(f.severity == "major" and f.limit == 135.0 for f in hits)
    assert all((f.value or 0.0) > 135.0 for f in hits)


def test_cod_spike_raises_exactly_one_cod_exceedance_alert(bench: ScenarioBench) -> None:
    """The inline check alerts while the spike streams in and resolves it on the normal
    readings after; the hourly means judged later belong to the same episode: no second alert."""
    run = bench.run("cod-spike")
    (episode,) = run.episodes
    cod = [a for a in run.alerts if a.parameter == "cod" and a.kind == "exceedance"]
    assert len(cod) == 1, [(a.basis, a.state, a.started_at, a.last_end) for a in cod]
    assert cod[0].severity == "major" and cod[0].state == "resolved"
    assert episode.start <= cod[0].started_at < cod[0].last_end <= episode.end
    assert {a.parameter for a in run.alerts if a.kind == "exceedance"} == {"cod"}


def test_normal_monday_of_another_plant_reports_nothing(bench: ScenarioBench) -> None:
    run = bench.run("normal", MONDAY_VARIANT)
    assert run.stored == 3 * 288
    assert run.findings == [], [(f.kind, f.basis, f.value) for f in run.findings]


def test_calibration_values_are_stored_excluded_and_counted(bench: ScenarioBench) -> None:
    run = bench.run("calibration")
    outlet = _series(run, bench, "outlet")
    calibrating = outlet[outlet["cod_status"] == 1]
    assert len(calibrating) == 2  # 00:20 and 00:25
    assert (calibrating["cod"] > 5 * 135.0 * 0.9).all()  # span-check values ~5x the limit
    assert not [f for f in run.findings if f.parameter == "cod"]
    day = bench.collector.scheduler.check_window(run.plant, PERIOD_START, bench.end, bench.end)
    (cod,) = [c for c in day.completeness if c.station == "outlet" and c.parameter == "cod"]
    assert (cod.expected, cod.valid, cod.excluded) == (288, 286, 2)


def test_ph_excursion_reports_high_then_low(bench: ScenarioBench) -> None:
    run = bench.run("ph-excursion")
    ph = sorted((f for f in run.findings if f.parameter == "ph"), key=lambda f: f.start)
    assert [f.kind for f in ph] == ["exceedance", "below_minimum"]
    high, low = (e for e in run.episodes if e.parameter == "ph")
    assert (ph[0].start, ph[0].end) == (high.start, high.end)
    assert (ph[1].start, ph[1].end) == (low.start, low.end)
    assert (ph[0].value or 0.0) > 9.0 and 0.0 < (ph[1].value or 0.0) < 5.5


def test_stuck_sensor_is_a_fault_not_a_breach(bench: ScenarioBench) -> None:
    run = bench.run("stuck-sensor")
    faults = [f for f in run.findings if f.kind == "sensor_fault"]
    assert [(f.station, f.parameter) for f in faults] == [("outlet", "nh4_n")]
    assert not [f for f in run.findings if f.kind in ("exceedance", "below_minimum")]


def test_stuck_sensor_fed_live_raises_a_sensor_fault_alert(bench: ScenarioBench) -> None:
    """Published paced (0.15 s per 5-minute step), as a station would: the flatline is only
    visible across 24 readings, so the scheduled check must be the one to report it."""
    run = bench.run("stuck-sensor", LIVE_VARIANT, period=timedelta(hours=3), speed=2000.0)
    (episode,) = run.episodes
    assert [(f.parameter, f.kind) for f in run.findings] == [("nh4_n", "sensor_fault")]
    assert run.findings[0].start == episode.start
    alerts = [(a.parameter, a.kind) for a in run.alerts if a.kind == "sensor_fault"]
    assert alerts == [("nh4_n", "sensor_fault")], run.alerts


def test_device_error_value_is_never_an_exceedance(bench: ScenarioBench) -> None:
    run = bench.run("device-error")
    (episode,) = run.episodes
    tss = [f for f in run.findings if f.parameter == "tss"]
    assert "exceedance" not in {f.kind for f in tss}
    assert [(f.kind, f.start, f.end) for f in tss if f.basis == "hourly_mean"] == [
        ("insufficient_data", episode.start, episode.end)
    ]
    outlet = _series(run, bench, "outlet")
    errors = outlet[outlet["tss_status"] == 2]
    assert len(errors) == 12 and (errors["tss"] == 999.9).all()


def test_drift_exceeds_in_the_last_hour_of_the_episode(bench: ScenarioBench) -> None:
    run = bench.run("drift")
    (episode,) = run.episodes
    hits = [f for f in run.findings if f.parameter == "cod" and f.kind == "exceedance"]
    assert hits and all(f.basis == "hourly_mean" for f in hits)
    assert max(f.end for f in hits) == episode.end
    assert min(f.start for f in hits) >= episode.start


def test_bypass_is_critical(bench: ScenarioBench) -> None:
    run = bench.run("bypass")
    (finding,) = [f for f in run.findings if f.kind == "bypass"]
    assert finding.severity == "critical" and finding.station == "bypass"
    assert [(a.kind, a.severity) for a in run.alerts if a.kind == "bypass"] == [
        ("bypass", "critical")
    ]


def test_overload_lowers_the_days_compliant_ratio(bench: ScenarioBench) -> None:
    run = bench.run("overload")
    (shortfall,) = [f for f in run.findings if f.kind == "treatment_shortfall"]
    assert shortfall.basis == "day" and shortfall.value is not None and shortfall.value < 0.98
    assert (shortfall.start, shortfall.end) == (PERIOD_START, PERIOD_START + PERIOD)


def test_clock_skew_records_are_stored_at_the_stamped_time(bench: ScenarioBench) -> None:
    run = bench.run("clock-skew")
    (episode,) = run.episodes
    inlet = _series(run, bench, "inlet")
    times = inlet["time"]
    skewed = times[times.dt.minute % 5 != 0]
    # The episode's 24 records, each 7 minutes ahead (:07 ... 02:02), the rest on the grid.
    assert len(skewed) == 24 and len(times) == 288
    assert set((skewed.dt.minute % 5).tolist()) == {2}
    assert skewed.min() == episode.start + timedelta(minutes=7)
    assert skewed.max() == episode.end - timedelta(minutes=5) + timedelta(minutes=7)
    assert run.findings == []


def test_dropout_is_no_data_for_every_outlet_parameter(bench: ScenarioBench) -> None:
    run = bench.run("dropout")
    (episode,) = run.episodes
    silent = {f.parameter for f in run.findings if f.kind == "no_data"}
    assert silent == set(run.plant.stations["outlet"])
    assert all(f.start < episode.end and f.end > episode.start
               for f in run.findings if f.kind == "no_data")
    assert run.stored == 3 * 288 - 12


def test_link_outage_backfill_array_is_stored_whole(bench: ScenarioBench) -> None:
    run = bench.run("link-outage")
    options = SimulateOptions(plant=run.plant.id, scenario="link-outage", start=PERIOD_START,
                              duration=PERIOD, backfill=True, seed=SEED)
    late = [m for m in generate(bench.config.plants, options) if m.kind == "backfill"]
    assert [m.records for m in late] == [12]
    assert run.stored == run.truth["published"]["records"] == 3 * 288
    assert run.findings == []


def test_duplicates_are_stored_once_without_alerts(bench: ScenarioBench) -> None:
    run = bench.run("duplicates")
    published = run.truth["published"]
    assert published["duplicates"] == 288 // 12
    assert run.stored == published["records"] - published["duplicates"] == 3 * 288
    assert run.alerts == []


def test_malformed_inputs_are_dead_lettered_by_class(bench: ScenarioBench) -> None:
    run = bench.run("malformed")
    assert run.truth["published"]["malformed"] == 7  # one per class of docs/simulator.md
    reasons = run.dead_letters
    classes = ["bad JSON: NaN is not allowed", "unknown field(s)", "non-numeric value for 'cod'",
               "bad station id 'Outlet 2'", "not ISO 8601", "payload too large"]
    for text in classes:
        assert sum(text in reason for reason in reasons) == 1, (text, reasons)
    # The seventh: the truncated JSON, rejected as bad JSON other than NaN.
    assert sum("bad JSON" in r and "NaN" not in r for r in reasons) == 1, reasons
    assert run.stored == 3 * 288
