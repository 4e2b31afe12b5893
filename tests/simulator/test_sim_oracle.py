"""The ground truth agrees with the rules engine: each episode's expected finding is found.

This is the simulator used as a test oracle (STYLE.md: seeded simulator = the test-data
generator): generated records → readings frame → `rules.evaluate` → findings vs truth.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from collector.payload import parse_message
from rules.evaluate import evaluate
from rules.settings import CheckSettings
from simulator.run import generate, plan_simulation

QUIET = ("normal", "calibration", "clock-skew", "link-outage", "duplicates", "malformed")


def frame_of(messages, plant) -> pd.DataFrame:
    keys = sorted({key for keys in plant.stations.values() for key in keys})
    rows = []
    for message in messages:
        if message.kind == "malformed":
            continue
        for reading in parse_message(message.topic, message.payload):
            row = {"time": reading.ts, "plant": reading.plant, "station": reading.station}
            for key in keys:
                row[key] = reading.values.get(key, float("nan"))
                row[f"{key}_status"] = reading.status.get(key, 0)
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def findings_for(sim, plant, scenario, hours):
    options = sim.options(scenario=scenario, duration=timedelta(hours=hours))
    plan = plan_simulation([plant], options)
    frame = frame_of(list(generate([plant], options)), plant)
    result = evaluate(frame, plant, CheckSettings(), plan.start, plan.end, plan.end)
    return plan, result.findings


@pytest.mark.parametrize(
    ("scenario", "hours"),
    [
        ("cod-spike", 6),
        ("ph-excursion", 6),
        ("stuck-sensor", 6),
        ("device-error", 6),
        ("drift", 6),
        ("bypass", 6),
        ("dropout", 6),
        ("overload", 24),
    ],
)
def test_expected_findings_are_reported(sim, plant, scenario, hours):
    plan, findings = findings_for(sim, plant, scenario, hours)
    expected = [e for e in plan.episodes if e.expected_finding]
    assert expected
    for episode in expected:
        matches = [
            f
            for f in findings
            if f.kind == episode.expected_finding
            and (f.kind == "treatment_shortfall" or f.station == episode.station)
            and episode.parameter in (None, f.parameter, "flow_in")
            and f.start < episode.end
            and f.end > episode.start
        ]
        assert matches, (episode, findings)


@pytest.mark.parametrize("scenario", QUIET)
def test_quiet_scenarios_raise_no_compliance_finding(sim, plant, scenario):
    _plan, findings = findings_for(sim, plant, scenario, 6)
    judged = [f for f in findings if f.kind in ("exceedance", "below_minimum", "bypass")]
    assert judged == []
    assert [f for f in findings if f.kind in ("no_data", "sensor_fault")] == []
