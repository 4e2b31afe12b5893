"""Scenario bench for the end-to-end tests: simulator → MQTT → collector → InfluxDB → windowed
checks, and a comparison of the findings with the simulator's ground truth.

One collector serves every scenario; each scenario gets its own plant (unique id) in one
shared cluster, so findings, stored points, dead letters and alerts never mix.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.alert import Alert
from collector.service import Collector
from quantrac.config import Config, parse_config
from quantrac.demo import KIM_BAI
from quantrac.stack import LocalStack
from rules.findings import Finding
from rules.permit import Plant
from simulator.run import SimulateOptions, SimulationSummary, run_simulation
from tests.conftest import wait_for

# A weekday (Monday), plant-local midnight, whole day: daily means and treatment are judged.
PERIOD_START = datetime.fromisoformat("2026-11-02T00:00:00+07:00")
PERIOD = timedelta(hours=24)
SEED = 11
COMPLIANCE_KINDS = ("exceedance", "below_minimum", "bypass")
# Findings a disturbance legitimately drags along besides its expected one, by scenario
# (docs/simulator.md): a breached, bypassed or silent hour lowers the day's treatment ratio;
# an hour without data has no valid hourly mean; status 02 is a device fault.
CONSEQUENCES: dict[str, tuple[str, ...]] = {
    "cod-spike": ("treatment_shortfall",),
    "drift": ("treatment_shortfall",),
    "ph-excursion": ("treatment_shortfall",),
    "bypass": ("treatment_shortfall",),
    "dropout": ("insufficient_data", "treatment_shortfall"),
    "device-error": ("sensor_fault",),
}


@dataclass(frozen=True)
class TruthEpisode:
    """One episode of the truth file, times parsed (aware)."""

    station: str
    parameter: str | None
    kind: str
    start: datetime
    end: datetime
    expected_finding: str | None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TruthEpisode:
        return cls(raw["station"], raw["parameter"], raw["kind"],
                   datetime.fromisoformat(raw["start"]), datetime.fromisoformat(raw["end"]),
                   raw["expected_finding"])

    def explains(self, finding: Finding, kinds: Sequence[str]) -> bool:
        """Whether `finding` (of one of `kinds`) is this episode's doing: same place, overlap."""
        if finding.kind not in kinds:
            return False
        if finding.kind == "treatment_shortfall":
            # A plant-wide daily ratio: any disturbance of that day lowers it.
            return finding.start < self.end and finding.end > self.start
        same_place = finding.station == self.station and self.parameter in (
            None, finding.parameter
        )
        return same_place and finding.start < self.end and finding.end > self.start


@dataclass
class Comparison:
    """Findings against the truth: expected episodes matched or missed, findings unexplained."""

    expected: list[TruthEpisode] = field(default_factory=list)
    matched: list[TruthEpisode] = field(default_factory=list)
    missed: list[TruthEpisode] = field(default_factory=list)
    extra: list[Finding] = field(default_factory=list)

    @property
    def extra_compliance(self) -> list[Finding]:
        return [f for f in self.extra if f.kind in COMPLIANCE_KINDS]


def compare(episodes: Sequence[TruthEpisode], findings: Sequence[Finding]) -> Comparison:
    """Match every expected episode with a finding of its kind; the rest are extras unless an
    expected episode explains them as a documented consequence."""
    result = Comparison(expected=[e for e in episodes if e.expected_finding])
    for episode in result.expected:
        kind = episode.expected_finding or ""
        hit = any(episode.explains(f, [kind]) for f in findings)
        (result.matched if hit else result.missed).append(episode)
    for finding in findings:
        if not any(
            e.explains(finding, [e.expected_finding or "", *CONSEQUENCES.get(e.kind, ())])
            for e in result.expected
        ):
            result.extra.append(finding)
    return result


@dataclass
class ScenarioRun:
    """Everything one scenario produced, for the assertions and the results table."""

    scenario: str
    plant: Plant
    truth: dict[str, Any]
    summary: SimulationSummary
    findings: list[Finding]
    scheduled: list[Finding]  # the frequent job's findings over the same backfilled day
    stored: int
    dead_letters: list[str]  # reasons, of this plant's topics
    alerts: list[Alert]
    comparison: Comparison

    @property
    def episodes(self) -> list[TruthEpisode]:
        return [TruthEpisode.from_json(e) for e in self.truth["episodes"]]

    def record(self) -> dict[str, Any]:
        """One JSON-able line for docs/scenario-results.md."""
        c = self.comparison
        kinds: dict[str, int] = {}
        for f in self.findings:
            kinds[f"{f.kind}/{f.basis}"] = kinds.get(f"{f.kind}/{f.basis}", 0) + 1
        return {
            "scenario": self.scenario,
            "plant": self.plant.id,
            "published": self.truth["published"],
            "stored": self.stored,
            "dead_letters": len(self.dead_letters),
            "expected": [f"{e.station}.{e.parameter or '*'} {e.expected_finding} "
                         f"{e.start:%H:%M}-{e.end:%H:%M}" for e in c.expected],
            "matched": len(c.matched),
            "missed": [f"{e.station}.{e.parameter or '*'} {e.expected_finding}" for e in c.missed],
            "extra": [f"{f.station}.{f.parameter} {f.kind}/{f.basis} "
                      f"{f.start:%H:%M}-{f.end:%H:%M}" for f in c.extra],
            "findings": kinds,
            "alerts": sorted(f"{a.station}.{a.parameter} {a.kind} {a.state}" for a in self.alerts),
        }


def plant_id(scenario: str, variant: str = "") -> str:
    """Fixed per scenario: the simulator seeds a plant's noise from seed + id, so a fixed id
    makes every run see the same data (the cluster id keeps topics unique). A variant is
    another plant running the same scenario (other noise)."""
    return f"e2e-{scenario}{variant}"


def bench_config(
    stack: LocalStack, database: str, state_dir: Path, prefix: str,
    scenarios: Sequence[tuple[str, str]],
) -> Config:
    """One Kim Bai-like plant per (scenario, variant) in cluster `prefix`, only the MQTT
    channel."""
    plants = []
    for scenario, variant in scenarios:
        plant = copy.deepcopy(KIM_BAI)
        plant.update(id=plant_id(scenario, variant), cluster=prefix,
                     name=f"Kim Bai ({scenario}{variant})")
        plants.append(plant)
    return parse_config({
        "mqtt": {"url": stack.mqtt_url, "client_id": f"col-{prefix}"},
        "influx": {"url": stack.influx_url, "database": database},
        "state": {"dir": str(state_dir)},
        "plants": plants,
        "alerts": {"lang": "en", "channels": {"mqtt": {"type": "mqtt"}}},
    }, source="scenario bench")


class ScenarioBench:
    """A running collector on the session stack, its clock frozen at the period's end: the
    APScheduler jobs never fire on their own (their run time is long past), so every check is
    one `run` makes explicitly, after the whole day is stored."""

    def __init__(self, config: Config, work: Path) -> None:
        self.config = config
        self.work = work
        self.end = PERIOD_START + PERIOD
        self.collector = Collector(
            config.mqtt, config.influx, config.state, config.plants, config.checks,
            config.alerts, check_every=timedelta(days=1), lang="en", clock=lambda: self.end,
        )
        self.results: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, ScenarioRun] = {}

    def start(self) -> None:
        self.collector.start()
        if not wait_for(self.collector.mqtt.connected.is_set, timeout=15):
            raise RuntimeError("collector did not connect to the broker")

    def stop(self) -> None:
        self.collector.stop()

    def plant(self, scenario: str, variant: str = "") -> Plant:
        return next(p for p in self.config.plants if p.id == plant_id(scenario, variant))

    def dead_letters(self, plant: Plant) -> list[str]:
        marker = f"/{plant.cluster}/{plant.id}/"
        return [d.reason for d in self.collector.deadletters.latest(10_000) if marker in d.topic]

    def run(
        self, scenario: str, variant: str = "", period: timedelta = PERIOD,
        speed: float | None = None,
    ) -> ScenarioRun:
        """The scenario's run, made once per bench (several tests look at one run).

        Backfill by default; with `speed` the records are paced (accelerated mode), so the
        collector ingests them a few at a time, as it would live."""
        key = scenario + variant
        if key not in self._runs:
            self._runs[key] = self._simulate(scenario, variant, period, speed)
        return self._runs[key]

    def _simulate(
        self, scenario: str, variant: str, period: timedelta, speed: float | None
    ) -> ScenarioRun:
        """Publish the scenario's period, wait until every record is stored (and every bad
        input dead-lettered), judge the period as the checks would, compare with the truth."""
        plant = self.plant(scenario, variant)
        truth_file = self.work / f"truth-{plant.id}.json"
        end = PERIOD_START + period
        options = SimulateOptions(plant=plant.id, scenario=scenario, start=PERIOD_START,
                                  duration=period, backfill=speed is None, speed=speed,
                                  seed=SEED, truth=truth_file)
        summary = run_simulation(self.config.plants, self.config.mqtt, options)
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        published = truth["published"]
        unique = published["records"] - published["duplicates"]
        store = self.collector.store
        wait_for(lambda: store.count(plant.id) >= unique, timeout=30, step=0.2)
        wait_for(lambda: len(self.dead_letters(plant)) >= published["malformed"], timeout=10)
        self.collector.wait_idle(30)
        scheduler = self.collector.scheduler
        # The review of the day (what `quantrac check` reports): the findings compared.
        result = scheduler.check_window(plant, PERIOD_START, end, self.end)
        findings = list(result.findings)
        # The frequent job as it runs once the backfill is in (it starts from the late mark):
        # this one feeds the alert book, so alerts follow the production path.
        scheduled = list(scheduler.check_plant(plant, end).findings)
        if period == PERIOD:
            # And the daily job of the next morning: it reports the day's bases (treatment).
            scheduler.run_daily(plant)
        episodes = [TruthEpisode.from_json(e) for e in truth["episodes"]]
        run = ScenarioRun(
            scenario=scenario, plant=plant, truth=truth, summary=summary, findings=findings,
            scheduled=scheduled,
            stored=store.count(plant.id), dead_letters=self.dead_letters(plant),
            alerts=[a for a in self.collector.alerts.list_alerts() if a.plant == plant.id],
            comparison=compare(episodes, findings),
        )
        self.results[scenario + variant] = run.record()
        return run

    def write_results(self, path: Path) -> None:
        path.write_text(json.dumps(self.results, indent=2) + "\n", encoding="utf-8")
