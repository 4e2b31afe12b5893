"""The inline monitor built by its constructor (no servers): what each scheduled job passes to
the alert book, the latest values the console reads, last-seen times and late marks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from collector.monitor import INLINE_KINDS, JOB_BASES, QUALITY_KINDS, Latest, Monitor
from collector.payload import Block, Reading, block_of
from rules.findings import Finding
from rules.permit import Plant
from rules.results import CheckResult, CompletenessRow
from rules.settings import CheckSettings

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi
PLANT = Plant.model_validate({
    "id": "kb", "cluster": "kb", "name": "Kim Bai", "timezone": "Asia/Ho_Chi_Minh",
    "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
    "interval": "5m", "stations": {"outlet": ["cod", "ph"], "inlet": ["flow_in"]},
})


class Book:
    def __init__(self) -> None:
        self.late: list[tuple[str, datetime]] = []

    def mark_late(self, plant: str, earliest: datetime) -> None:
        self.late.append((plant, earliest))


class Alerts:
    """Records every observation, keyword arguments as given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def observe(self, findings: Any, scope: Any, now: datetime, **kwargs: Any) -> None:
        self.calls.append({"findings": list(findings), "scope": set(scope), "now": now,
                           **kwargs})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build(now: datetime = T0) -> tuple[Monitor, Book, Alerts, Clock]:
    book, alerts, clock = Book(), Alerts(), Clock(now)
    return Monitor([PLANT], CheckSettings(), book, alerts, clock), book, alerts, clock


def blocks(readings: list[Reading]) -> list[Block]:
    """A round as the intake hands it on: here one message (block) per reading."""
    return [block_of([r]) for r in readings]


def reading(minutes: int, values: dict[str, float], station: str = "outlet",
            status: dict[str, int] | None = None, plant: str = "kb") -> Reading:
    return Reading("kb", plant, station, T0 + timedelta(minutes=minutes), values, status or {})


def finding(kind: str, basis: str, parameter: str = "cod") -> Finding:
    return Finding("kb", "outlet", parameter, kind, basis, T0, T0 + timedelta(hours=1),
                   150.0, 135.0, 1.11, "minor")


def result() -> CheckResult:
    findings = [finding("exceedance", "instantaneous"), finding("exceedance", "hourly_mean"),
                finding("exceedance", "daily_mean"), finding("no_data", "hourly_mean", "ph"),
                finding("sensor_fault", "instantaneous", "ph"),
                finding("exceedance", "monthly_mean")]
    completeness = [CompletenessRow("kb", "outlet", "cod", date(2026, 11, 1), 12, 12),
                    CompletenessRow("kb", "outlet", "ph", date(2026, 11, 1), 12, 0)]
    return CheckResult(findings=findings, completeness=completeness)


def kinds_and_bases(call: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.kind, f.basis) for f in call["findings"]]


def test_the_frequent_job_passes_hourly_means_then_quality_findings() -> None:
    monitor, _, alerts, _ = build()
    monitor.file_check(PLANT, result(), T0, T0 + timedelta(hours=1), T0, "frequent")
    means, quality = alerts.calls
    assert kinds_and_bases(means) == [("exceedance", "hourly_mean"), ("no_data", "hourly_mean")]
    assert means["bases"] == JOB_BASES["frequent"] and "kinds" not in means
    # Only series with valid readings are in scope: a silent one never clears.
    assert means["scope"] == {("kb", "outlet", "cod")}
    assert kinds_and_bases(quality) == [("no_data", "hourly_mean"),
                                        ("sensor_fault", "instantaneous")]
    assert quality["kinds"] == QUALITY_KINDS and "bases" not in quality


@pytest.mark.parametrize(("job", "expected"), [
    ("daily", [("exceedance", "daily_mean")]),
    ("monthly", [("exceedance", "monthly_mean")]),
])
def test_daily_and_monthly_jobs_pass_only_their_own_bases(
    job: str, expected: list[tuple[str, str]]
) -> None:
    monitor, _, alerts, _ = build()
    monitor.file_check(PLANT, result(), T0, T0 + timedelta(days=1), T0, job)
    (call,) = alerts.calls
    assert kinds_and_bases(call) == expected and call["bases"] == JOB_BASES[job]


def test_the_review_job_reaches_no_alert() -> None:
    monitor, _, alerts, _ = build()
    monitor.file_check(PLANT, result(), T0, T0 + timedelta(days=1), T0, "review")
    assert alerts.calls == []


def test_latest_keeps_the_newest_valid_value_of_configured_series_across_rounds() -> None:
    monitor, _, alerts, _ = build(T0 + timedelta(minutes=30))
    assert monitor.latest() == {}
    monitor.judge_round(blocks([
        reading(10, {"cod": 40.0, "ph": 7.0, "spare": 1.0}),
        reading(5, {"cod": 41.0}),
        reading(15, {"cod": 999.0}, status={"cod": 1}),  # calibrating: not a live value
        reading(10, {"flow_in": 60.0}, station="inlet"),
        reading(10, {"cod": 42.0}, station="spare"),  # station not configured
        reading(10, {"cod": 43.0}, plant="zz"),  # plant not configured
    ]))
    at = T0 + timedelta(minutes=10)
    assert monitor.latest() == {("kb", "outlet", "cod"): Latest(40.0, at),
                                ("kb", "outlet", "ph"): Latest(7.0, at),
                                ("kb", "inlet", "flow_in"): Latest(60.0, at)}
    # The round's own scope still names every value it carried (the alert book decides).
    assert ("kb", "outlet", "spare") in alerts.calls[0]["scope"]
    monitor.judge_round(blocks([reading(0, {"cod": 30.0}), reading(20, {"ph": 7.5})]))
    latest = monitor.latest()
    assert latest[("kb", "outlet", "cod")] == Latest(40.0, at)  # older backfill loses
    assert latest[("kb", "outlet", "ph")] == Latest(7.5, T0 + timedelta(minutes=20))
    latest.clear()  # a copy: the caller cannot change the monitor's view
    assert len(monitor.latest()) == 3


def test_changes_carry_the_newest_status_and_are_taken_once() -> None:
    monitor, _, _, _ = build(T0 + timedelta(minutes=30))
    monitor.judge_round(blocks([reading(10, {"cod": 40.0, "ph": 7.0}),
                                reading(15, {"cod": 999.0}, status={"cod": 2})]))
    changes = {(v.station, v.parameter): v for v in monitor.take_changes()}
    cod = changes[("outlet", "cod")]
    assert (cod.value, cod.at, cod.status, cod.seen) == (
        40.0, T0 + timedelta(minutes=10), 2, T0 + timedelta(minutes=15))
    assert changes[("outlet", "ph")].status == 0
    assert monitor.take_changes() == []
    monitor.judge_round(blocks([reading(5, {"ph": 6.0})]))  # older than what is known
    assert monitor.take_changes() == []
    monitor.judge_round(blocks([reading(20, {"cod": 50.0})]))
    (cod,) = monitor.take_changes()
    assert (cod.value, cod.status, cod.seen) == (50.0, 0, T0 + timedelta(minutes=20))


def test_last_seen_and_late_marks() -> None:
    monitor, book, alerts, clock = build(T0 + timedelta(minutes=30))
    monitor.judge_round(blocks([reading(10, {"cod": 40.0}), reading(12, {"flow_in": 1.0}, "inlet"),
                                reading(5, {"cod": 41.0}), reading(1, {"cod": 1.0}, plant="zz")]))
    assert monitor.last_seen() == {("kb", "outlet"): T0 + timedelta(minutes=10),
                                   ("kb", "inlet"): T0 + timedelta(minutes=12),
                                   ("zz", "outlet"): T0 + timedelta(minutes=1)}
    assert book.late == []  # all within the current hour
    assert alerts.calls[0]["kinds"] == INLINE_KINDS
    clock.now = T0 + timedelta(hours=2)
    monitor.judge_round(blocks([reading(20, {"cod": 40.0})]))
    assert book.late == [("kb", T0 + timedelta(minutes=20))]
    assert monitor.last_seen()[("kb", "outlet")] == T0 + timedelta(minutes=20)
