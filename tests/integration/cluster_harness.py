"""Cluster scenario bench for the end-to-end tests: `simulate --cluster` → MQTT → collector →
InfluxDB → the scheduled daily jobs (plants, then the cluster) → the check book, compared with
the simulator's ground truth.

One collector serves every scenario; each scenario runs on its own copy of a cluster of the
sample province (every id prefixed), so readings, findings, rows and alerts never mix.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.alert import Alert
from collector.service import Collector
from quantrac.config import Config, parse_config
from quantrac.stack import LocalStack
from rules.cluster import ClusterLayout
from rules.collection import finding_plant
from rules.findings import Finding
from rules.results import ClusterRow
from simulator.run import SimulateOptions, SimulationSummary, run_simulation
from tests.conftest import wait_for
from tests.integration.scenario_harness import PERIOD, PERIOD_START, SEED

PROVINCE = Path(__file__).parents[2] / "deploy/etc/quantrac/province.toml"
# (scenario, sample cluster it runs on): cluster scenarios, and normal days of both kinds of
# cluster with a central WWTP (Kim Bai: all members connected; C: a declared member is not).
RUNS = (("normal", "kim-bai"), ("illegal-discharge", "kim-bai"),
        ("factory-overload", "kim-bai"), ("unconnected-factory", "kim-bai"),
        ("no-central-plant", "mau-b"), ("normal", "mau-c"))
# Episode kinds whose shortfall the note must pin on the episode's member.
NAMED = ("illegal-discharge", "unconnected-factory")


def tag(scenario: str, cluster: str) -> str:
    """The id prefix of one run's cluster copy."""
    return f"c-{scenario}-{cluster}"


def cluster_copies(runs: Sequence[tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    """`[[clusters]]` and `[[plants]]` of the sample province, one renamed copy per run."""
    raw = tomllib.loads(PROVINCE.read_text(encoding="utf-8"))
    clusters: list[dict[str, Any]] = []
    plants: list[dict[str, Any]] = []
    for scenario, cluster_id in runs:
        prefix = tag(scenario, cluster_id)

        def rename(value: str, prefix: str = prefix) -> str:
            return f"{prefix}-{value}"

        entry = copy.deepcopy(next(c for c in raw["clusters"] if c["id"] == cluster_id))
        entry["id"] = rename(entry["id"])
        if entry.get("central_plant"):
            entry["central_plant"] = rename(entry["central_plant"])
        for factory in entry.get("factories", []):
            factory["id"] = rename(factory["id"])
        clusters.append(entry)
        for plant in (p for p in raw["plants"] if p["cluster"] == cluster_id):
            plant = copy.deepcopy(plant)
            plant["id"], plant["cluster"] = rename(plant["id"]), rename(plant["cluster"])
            if plant.get("discharges_to"):
                plant["discharges_to"] = rename(plant["discharges_to"])
            plants.append(plant)
    return clusters, plants


def bench_config(stack: LocalStack, database: str, state_dir: Path, client: str) -> Config:
    clusters, plants = cluster_copies(RUNS)
    return parse_config({
        "mqtt": {"url": stack.mqtt_url, "client_id": client},
        "influx": {"url": stack.influx_url, "database": database},
        "state": {"dir": str(state_dir)},
        "clusters": clusters, "plants": plants,
        "alerts": {"lang": "en", "channels": {"mqtt": {"type": "mqtt"}}},
    }, source="cluster scenario bench")


@dataclass(frozen=True)
class Expected:
    """An episode of the truth file that must be found (times aware)."""

    plant: str
    station: str
    parameter: str | None
    kind: str
    start: datetime
    end: datetime
    finding: str

    def explains(self, f: Finding) -> bool:
        """Whether finding `f` is this episode's doing: its kind, overlapping, and for a
        collection shortfall a note that names the member (when the scenario names one)."""
        if f.kind != self.finding or not (f.start < self.end and f.end > self.start):
            return False
        if f.kind != "collection_shortfall":
            return (f.plant, f.station) == (self.plant, self.station) and (
                self.parameter in (None, f.parameter))
        note = f.explanation
        if self.kind in NAMED:
            return note is not None and note.culprit == self.plant
        if self.kind == "not-connected":
            return note is not None and self.plant in {m for m, _ in note.unconnected}
        return True


@dataclass
class ClusterRun:
    """Everything one cluster scenario produced, for the assertions and the results table."""

    scenario: str
    prefix: str  # of every id of the run's cluster copy
    layout: ClusterLayout
    truth: dict[str, Any]
    summary: SimulationSummary
    stored: int
    findings: list[Finding]  # the check book's, after the daily jobs
    day: ClusterRow
    rejudged: ClusterRow  # the same day judged again by the frequent job from its late mark
    alerts: list[Alert]
    expected: list[Expected] = field(default_factory=list)
    missed: list[Expected] = field(default_factory=list)
    extra: list[Finding] = field(default_factory=list)

    def shortfalls(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "collection_shortfall"]

    def record(self) -> dict[str, Any]:
        """One JSON-able line for docs/scenario-results.md."""
        day = self.day
        notes = [f.note.replace(f"{self.prefix}-", "") for f in self.shortfalls()]

        def short(plant: str) -> str:
            return plant.removeprefix(f"{self.prefix}-")

        zone = self.layout.zone

        return {
            "scenario": self.scenario, "cluster": self.layout.id,
            "published": self.truth["published"]["records"], "stored": self.stored,
            "expected": [f"{short(e.plant)} {e.kind} → {e.finding}" for e in self.expected],
            "matched": len(self.expected) - len(self.missed),
            "missed": [f"{e.plant} {e.kind}" for e in self.missed],
            "extra": [f"{short(f.plant)} {f.station}.{f.parameter} {f.kind}/{f.basis}"
                      for f in self.extra],
            "findings": sorted(
                f"{short(f.plant)} {f.station}.{f.parameter} {f.kind}/{f.basis} "
                f"{f.start.astimezone(zone):%H:%M}-{f.end.astimezone(zone):%H:%M}"
                for f in self.findings),
            "generated_m3": round(day.generated_m3, 1), "collected_m3": round(day.collected_m3, 1),
            "collection_ratio": day.collection_ratio, "treatment_ratio": day.treatment_ratio,
            "target_met": day.target_met, "notes": notes,
            "alerts": sorted(f"{short(a.plant)} {a.kind} {a.state}" for a in self.alerts),
        }


class ClusterBench:
    """A running collector on the session stack, its clock frozen just after the simulated
    day's midnight (when the daily jobs run): every check is one the test drives."""

    def __init__(self, config: Config, work: Path) -> None:
        self.config = config
        self.work = work
        self.now = PERIOD_START + PERIOD + timedelta(minutes=6)
        self.collector = Collector(
            config.mqtt, config.influx, config.state, config.plants, config.checks,
            config.alerts, check_every=timedelta(days=1), lang="en", clock=lambda: self.now,
            clusters=config.layouts(),
        )
        self.results: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, ClusterRun] = {}

    def start(self) -> None:
        self.collector.start()
        if not wait_for(self.collector.mqtt.connected.is_set, timeout=15):
            raise RuntimeError("collector did not connect to the broker")

    def stop(self) -> None:
        self.collector.stop()

    def run(self, scenario: str, cluster: str) -> ClusterRun:
        prefix = tag(scenario, cluster)
        if prefix not in self._runs:
            self._runs[prefix] = self._simulate(scenario, prefix, f"{prefix}-{cluster}")
        return self._runs[prefix]

    def _simulate(self, scenario: str, prefix: str, cluster_id: str) -> ClusterRun:
        """Backfill the cluster's day through the broker, wait until it is stored, run the
        plants' and the cluster's daily jobs, then the frequent job (late marks)."""
        layouts = self.config.layouts()
        layout = next(c for c in layouts if c.id == cluster_id)
        truth_file = self.work / f"truth-{cluster_id}.json"
        options = SimulateOptions(cluster=cluster_id, scenario=scenario, start=PERIOD_START,
                                  duration=PERIOD, backfill=True, seed=SEED, truth=truth_file)
        summary = run_simulation(self.config.plants, self.config.mqtt, options,
                                 clusters=layouts)
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        published = truth["published"]
        unique = published["records"] - published["duplicates"]
        store = self.collector.store

        def stored() -> int:
            return sum(store.count(p.id) for p in layout.plants)

        wait_for(lambda: stored() >= unique, timeout=30, step=0.2)
        self.collector.wait_idle(30)
        scheduler = self.collector.scheduler
        for plant in layout.plants:
            scheduler.run_daily(plant)
        (owned,) = [c for c in scheduler.clusters if c.id == cluster_id]
        scheduler.run_daily_cluster(owned)
        book = self.collector.book
        day = next(r for r in book.cluster_rows(cluster_id, "2026-11-02", "2026-11-02")
                   if len(r.date) == 10)
        findings = [f for plant in {*(p.id for p in layout.plants), finding_plant(layout)}
                    for f in book.stored_findings(plant, PERIOD_START, PERIOD_START + PERIOD)]
        # The backfill arrived after its hours: the inline monitor marked every plant late; the
        # frequent job judges them again and, from their marks, the cluster's closed day.
        scheduler.run_frequent()
        rejudged = next(r for r in book.cluster_rows(cluster_id, "2026-11-02", "2026-11-02")
                        if len(r.date) == 10)
        alerts = [a for a in self.collector.alerts.list_alerts()
                  if a.cluster == cluster_id or a.plant == cluster_id]
        run = ClusterRun(scenario, prefix, layout, truth, summary, stored(), findings, day,
                         rejudged, alerts)
        _compare(run)
        self.results[prefix] = run.record()
        return run

    def write_results(self, path: Path) -> None:
        path.write_text(json.dumps(self.results, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")


def _compare(run: ClusterRun) -> None:
    """Every expected episode found by a finding that it explains; every other compliance or
    collection finding is extra."""
    for raw in run.truth["episodes"]:
        if raw["expected_finding"]:
            run.expected.append(Expected(
                raw["plant"], raw["station"], raw["parameter"], raw["kind"],
                datetime.fromisoformat(raw["start"]), datetime.fromisoformat(raw["end"]),
                raw["expected_finding"]))
    run.missed = [e for e in run.expected if not any(e.explains(f) for f in run.findings)]
    run.extra = [f for f in run.findings
                 if f.kind in ("exceedance", "below_minimum", "bypass", "collection_shortfall")
                 and not any(e.explains(f) for e in run.expected)]
