"""Golden month: a seeded simulator month with known episodes -> report tables = ground truth.

The simulator injects a COD spike, a calibration and a bypass into October 2026 of Kim Bai;
the rules judge the month; the report must show each injected episode where it happened and
nothing of the kind anywhere else, and its CSV tables must carry the rules' numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.payload import parse_message
from collector.store import frame_of
from reports.model import Report, build_report
from reports.tables import render_table
from rules.evaluate import evaluate
from rules.limits import plant_limits
from rules.results import CheckResult
from rules.settings import CheckSettings
from simulator.run import SimulateOptions, generate, plan_simulation
from tests.reports.sample_plant import make_plant

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 10, 1, tzinfo=ZONE)
END = datetime(2026, 11, 1, tzinfo=ZONE)
OPTIONS = SimulateOptions(start=START, duration=END - START, backfill=True, seed=7,
                          scenario="cod-spike,calibration,bypass")


@pytest.fixture(scope="module")
def month():
    plant = make_plant()
    truth = {e.kind: e for e in plan_simulation([plant], OPTIONS).episodes}
    readings = [r for m in generate([plant], OPTIONS) if m.kind != "malformed"
                for r in parse_message(m.topic, m.payload)]
    frame = frame_of(readings).drop_duplicates(["time", "station"])
    result = evaluate(frame, plant, CheckSettings(), START, END, now=END)
    limits = plant_limits(plant, START.date())
    report = build_report(frame, plant, result, limits, START, END, lang="vi",
                          generated_at=END, version="golden")
    return plant, truth, frame, result, report


def _rows(report: Report, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render_table(report, table).decode("utf-8"))))


def _overlaps(start: datetime, end: datetime, episode) -> bool:
    return start < episode.end and end > episode.start


def test_truth_has_the_three_episodes(month):
    _, truth, *_ = month
    assert set(truth) == {"cod-spike", "calibration", "bypass"}


def test_cod_spike_is_the_only_exceedance(month):
    _, truth, _, _, report = month
    spike = truth["cod-spike"]
    exceedances = [e for e in _rows(report, "episodes") if e["kind"] == "exceedance"]
    assert exceedances, "the injected COD spike must be reported"
    for row in exceedances:
        assert row["parameter"] == "cod"
        start, end = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
        assert _overlaps(start, end, spike), row
    cod = next(p for p in report.parameters if (p.station, p.parameter) == ("outlet", "cod"))
    assert cod.episodes == len(exceedances)
    assert cod.worst_ratio is not None and cod.worst_ratio > 1.5  # ~2x the limit injected


def test_values_over_limit_lie_inside_the_spike(month):
    _, truth, frame, _, report = month
    spike, limit = truth["cod-spike"], report.limit("cod")
    outlet = frame[(frame["station"] == "outlet") & (frame["cod_status"] == 0)]
    over = outlet[outlet["cod"] > limit.max]
    assert len(over) > 0
    assert ((over["time"] >= spike.start) & (over["time"] < spike.end)).all()
    cod = next(p for p in report.parameters if (p.station, p.parameter) == ("outlet", "cod"))
    assert cod.over_limit == len(over)
    spike_day = spike.start.astimezone(ZONE).date()
    per_day = {d.date: d.over_limit for d in report.days}
    assert per_day[spike_day] == len(over)
    assert sum(per_day.values()) == len(over)


def test_calibration_time_is_excluded_not_exceeding(month):
    _, truth, _, _, report = month
    calibration = truth["calibration"]
    minutes = (calibration.end - calibration.start) / timedelta(minutes=1)
    cod = next(p for p in report.parameters if (p.station, p.parameter) == ("outlet", "cod"))
    assert cod.calibrating_minutes == pytest.approx(minutes)
    for row in _rows(report, "episodes"):
        if row["parameter"] == "cod" and row["kind"] == "exceedance":
            start, end = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
            assert not _overlaps(start, end, calibration)
    assert cod.max is not None and cod.max < calibration.level  # span values never counted


def test_bypass_day_and_volume(month):
    _, truth, _, _, report = month
    bypass = truth["bypass"]
    day = bypass.start.astimezone(ZONE).date().isoformat()
    rows = [r for r in _rows(report, "treatment") if len(r["date"]) == 10]
    assert len(rows) == 31
    volumes = {r["date"]: float(r["bypass_m3"]) for r in rows}
    assert volumes[day] > 0
    assert all(v == 0 for d, v in volumes.items() if d != day)
    findings = [e for e in _rows(report, "episodes") if e["kind"] == "bypass"]
    assert len(findings) == 1
    assert _overlaps(datetime.fromisoformat(findings[0]["start"]),
                     datetime.fromisoformat(findings[0]["end"]), bypass)
    assert next(d for d in report.days if d.date.isoformat() == day).status == "violation"


def test_tables_carry_the_rules_numbers(month):
    _, _, _, result, report = month
    mine = [r.to_json() for r in result.treatment]
    rows = _rows(report, "treatment")
    assert len(rows) == len(mine)
    for row, want in zip(rows, sorted(mine, key=lambda j: (-len(j["date"]), j["date"])),
                         strict=True):
        for key, value in want.items():
            assert (row[key] == "") if value is None else (row[key] == str(value)), (key, row)
    episodes = _rows(report, "episodes")
    assert len(episodes) == len(result.findings)
    assert sorted(e["start"] + e["kind"] for e in episodes) == sorted(
        f.start.isoformat() + f.kind for f in result.findings)
    assert report.verdict_status == "noncompliant"
    assert isinstance(result, CheckResult)
