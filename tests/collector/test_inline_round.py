"""The inline check of a round (Monitor.judge_round, series straight from the intake's blocks)
tells the alert book exactly what the frame-based check of the same readings did: same
findings in the same order, same scope and latest values, same late marks, however the
records come in blocks. Random rounds: statuses 01/02, absent values, impossible values,
bypass flow, jumps, stuck runs, breaches then recoveries, several plants (one unknown) and
stations, unsorted and tied times, microseconds, non-UTC offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.monitor import INLINE_KINDS, Monitor
from collector.payload import Block, Reading, block_of
from collector.schedule import hour_floor
from collector.store import frame_of
from rules.findings import Finding
from rules.limits import plant_limits
from rules.permit import Plant
from rules.settings import CheckSettings
from tests.rules.inline_reference import reference_findings

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
KEYS = ("cod", "ph", "tss", "flow_in", "flow_out", "flow_bypass", "temperature", "nh4")
VALUES = (-1.0, 0.0, 3.0, 5.6, 7.0, 8.0, 8.9, 15.0, 50.0, 51.0, 134.0, 136.0, 200.0)
QUIET = ((5.6, 8.9), (0.0, 134.0), (6.0, 7.0, 8.0, 51.0, 60.0))
SETTINGS = (
    CheckSettings(),
    CheckSettings(stuck_readings=3, jump_steps={"ph": 3.0, "cod": 100.0},
                  compliance_stations=("outlet", "inlet")),
)


def plant(pid: str, stations: dict[str, list[str]]) -> Plant:
    return Plant.model_validate({
        "id": pid, "cluster": "kb", "name": pid, "timezone": "Asia/Ho_Chi_Minh",
        "design_flow_m3_day": 1500, "regulation": "qcvn40-2011", "column": "B", "kq": 0.9,
        "interval": "5m", "stations": stations,
    })


PLANTS = (
    plant("kb", {"outlet": ["cod", "ph", "tss", "flow_out", "temperature"],
                 "inlet": ["cod", "flow_in"], "bypass": ["flow_bypass"]}),
    plant("kc", {"outlet": ["flow_out", "ph", "cod"]}),
)


class Book:
    def __init__(self) -> None:
        self.late: list[tuple[str, datetime]] = []

    def mark_late(self, plant_id: str, earliest: datetime) -> None:
        self.late.append((plant_id, earliest))


class Alerts:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def observe(self, findings: list[Finding], scope: list[Any], now: datetime,
                values: dict[Any, float], bases: set[str], kinds: frozenset[str]) -> None:
        # The book takes scope as a set and values as a mapping: their order is no contract.
        self.calls.append((list(findings), set(scope), now, dict(values), bases, kinds))


def monitor(checks: CheckSettings, now: datetime) -> tuple[Monitor, Book, Alerts]:
    book, alerts = Book(), Alerts()
    return Monitor(PLANTS, checks, book, alerts, clock=lambda: now), book, alerts


def reference_round(
    checks: CheckSettings, now: datetime, book: Book, alerts: Alerts, readings: list[Reading]
) -> dict[tuple[str, str], datetime]:
    """The inline round as it was (Collector._on_durable): one readings frame per round,
    split by plant. Returns the stations' last-seen times."""
    plants = {p.id: p for p in PLANTS}
    last_seen: dict[tuple[str, str], datetime] = {}
    by_plant: dict[str, list[Reading]] = {}
    for reading in readings:
        by_plant.setdefault(reading.plant, []).append(reading)
    for reading in readings:
        station = (reading.plant, reading.station)
        if station not in last_seen or last_seen[station] < reading.ts:
            last_seen[station] = reading.ts
    findings: list[Finding] = []
    latest: dict[tuple[str, str, str], float] = {}
    latest_at: dict[tuple[str, str, str], datetime] = {}
    frames = {str(k): g for k, g in frame_of(readings).groupby("plant", sort=False)}
    for plant_id, items in by_plant.items():
        plant = plants.get(plant_id)
        if plant is None:
            continue
        earliest = min(r.ts for r in items)
        if earliest < hour_floor(now, plant):
            book.mark_late(plant_id, earliest)
        limits = plant_limits(plant, now.astimezone(plant.zone).date())
        findings.extend(reference_findings(frames[plant_id], plant, checks, limits))
        for r in sorted(items, key=lambda r: r.ts):
            for key, value in r.values.items():
                if key not in r.status:
                    latest[(r.plant, r.station, key)] = value
                    latest_at[(r.plant, r.station, key)] = r.ts
    if not latest and not findings:
        return last_seen
    alerts.observe(findings, list(latest), now, values=latest,
                   bases={"instantaneous"}, kinds=INLINE_KINDS)
    breached: dict[tuple[str, str, str], datetime] = {}
    for f in findings:
        series = (f.plant, f.station, f.parameter)
        breached[series] = max(f.end, breached.get(series, f.end))
    after = {series: latest[series] for series, end in breached.items()
             if series in latest and latest_at[series] > end}
    if after:
        alerts.observe([], list(after), now, values=after,
                       bases={"instantaneous"}, kinds=INLINE_KINDS)
    return last_seen


def reference_changes(readings: list[Reading]) -> set[tuple[Any, ...]]:
    """The console's last values after one round on a fresh monitor, from the readings:
    per configured series the last valid value and time, the last status and time (by time,
    stable)."""
    configured = {(p.id, station, key) for p in PLANTS
                  for station, keys in p.stations.items() for key in keys}
    last: dict[tuple[str, str, str], tuple[int, datetime]] = {}
    valid: dict[tuple[str, str, str], tuple[float, datetime]] = {}
    for r in sorted(readings, key=lambda r: r.ts):
        for key, value in r.values.items():
            series = (r.plant, r.station, key)
            last[series] = (r.status.get(key, 0), r.ts)
            if key not in r.status:
                valid[series] = (value, r.ts)
    return {(*series, *valid.get(series, (None, None)), *last[series])
            for series in last if series in configured}


def blocks_of(readings: list[Reading], size: int) -> list[Block]:
    """The readings as the intake would hand them on: a block per message, a message being
    consecutive records of one station (here at most `size` of them)."""
    blocks: list[Block] = []
    run: list[Reading] = []
    for reading in readings:
        if run and (len(run) == size or (run[0].plant, run[0].station) != (
                reading.plant, reading.station)):
            blocks.append(block_of(run))
            run = []
        run.append(reading)
    if run:
        blocks.append(block_of(run))
    return blocks


@st.composite
def rounds(draw: st.DrawFn) -> list[Reading]:
    palette = draw(st.one_of(
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=8, unique=True),
        st.sampled_from(QUIET)))
    span = draw(st.sampled_from((20, 60, 400)))
    flagged = draw(st.booleans())
    readings = []
    for _ in range(draw(st.integers(0, 80))):
        keys = draw(st.lists(st.sampled_from(KEYS), max_size=len(KEYS), unique=True))
        seconds = draw(st.integers(0, span)) * 60 + draw(st.sampled_from((0, 0, 0, 1, 59)))
        ts = T0 + timedelta(seconds=seconds, microseconds=draw(st.sampled_from((0, 0, 7))))
        if draw(st.integers(0, 9)) == 0:
            ts = ts.astimezone(timezone(timedelta(hours=7)))
        status = ({k: draw(st.sampled_from((1, 2))) for k in keys
                   if draw(st.integers(0, 5)) == 0} if flagged else {})
        readings.append(Reading(
            "kb", draw(st.sampled_from(("kb", "kb", "kc", "zz"))),
            draw(st.sampled_from(("outlet", "outlet", "inlet", "bypass", "spare"))), ts,
            {k: draw(st.sampled_from(palette)) for k in keys}, status))
    return readings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings=rounds(), which=st.integers(0, len(SETTINGS) - 1),
       late=st.integers(0, 600), size=st.sampled_from([1, 3, 100]))
def test_a_round_tells_the_alert_book_what_the_frame_check_did(
    readings: list[Reading], which: int, late: int, size: int
) -> None:
    now = T0 + timedelta(minutes=late)
    new, book, alerts = monitor(SETTINGS[which], now)
    old_book, old_alerts = Book(), Alerts()
    new.judge_round(blocks_of(readings, size))
    last_seen = reference_round(SETTINGS[which], now, old_book, old_alerts, readings)
    assert alerts.calls == old_alerts.calls
    assert book.late == old_book.late
    assert new.last_seen() == last_seen
    assert {(v.plant, v.station, v.parameter, v.value, v.at, v.status, v.seen)
            for v in new.take_changes()} == reference_changes(readings)


def test_a_breach_then_a_recovery_in_one_round() -> None:
    """The comparison above is not vacuous: a breach, and the value after it, reach the book."""
    readings = [Reading("kb", "kb", "outlet", T0 + timedelta(minutes=5 * i),
                        {"cod": v, "ph": 7.0 + i / 10}) for i, v in enumerate((50, 200, 60))]
    m, _, alerts = monitor(SETTINGS[0], T0 + timedelta(minutes=20))
    m.judge_round([block_of(list(reversed(readings)))])
    (found, scope, *_, values, _, _), (none, after, *_, again, _, _) = alerts.calls
    assert [(f.parameter, f.kind, f.value) for f in found] == [("cod", "exceedance", 200.0)]
    assert scope == {("kb", "outlet", "cod"), ("kb", "outlet", "ph")}
    assert values == {("kb", "outlet", "cod"): 60.0, ("kb", "outlet", "ph"): 7.2}
    assert none == [] and after == {("kb", "outlet", "cod")} and again == {
        ("kb", "outlet", "cod"): 60.0}
