"""Each scenario's ground truth matches what was generated."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from collector.errors import PayloadError
from collector.payload import parse_message
from simulator.errors import SimulatorError
from simulator.run import plan_simulation
from simulator.scenarios import MALFORMED_CLASSES, SCENARIOS, parse_scenarios

COD_LIMIT = 135.0


def episodes(sim, plant, scenario, **changes):
    return plan_simulation([plant], sim.options(scenario=scenario, **changes)).episodes


def only(sim, plant, scenario, kind=None):
    found = [e for e in episodes(sim, plant, scenario) if e.kind == (kind or scenario)]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", [name for name in SCENARIOS if name != "normal"])
def test_every_episode_fits_a_six_hour_run(sim, plant, name):
    found = episodes(sim, plant, name)
    assert found, name
    start, end = sim.MONDAY, sim.MONDAY + timedelta(hours=6)
    for episode in found:
        assert start <= episode.start <= episode.end <= end
        assert episode.plant == "kim-bai"
        assert episode.station in plant.stations


def test_episodes_are_placed_relative_to_the_period(sim, plant):
    short = only(sim, plant, "cod-spike")
    long = episodes(sim, plant, "cod-spike", duration=timedelta(days=1))[0]
    assert long.start - sim.MONDAY > short.start - sim.MONDAY
    later = sim.MONDAY + timedelta(days=3)
    late = episodes(sim, plant, "cod-spike", start=later)[0]
    assert late.start - later == short.start - sim.MONDAY


def test_cod_spike_exceeds_in_every_hour_of_the_episode(sim, plant):
    spike = only(sim, plant, "cod-spike")
    assert spike.expected_finding == "exceedance"
    assert spike.end - spike.start >= timedelta(hours=2)
    outlet = sim.readings(sim.run([plant], scenario="cod-spike"), "outlet")
    hour = spike.start
    while hour < spike.end:
        assert sim.mean(sim.window(outlet, hour, hour + sim.HOUR), "cod") > COD_LIMIT
        hour += sim.HOUR
    outside = [r for r in outlet if not spike.start <= r.ts < spike.end]
    assert outside and max(r.values["cod"] for r in outside) < COD_LIMIT


def test_ph_excursion_goes_both_ways(sim, plant):
    found = [e for e in episodes(sim, plant, "ph-excursion")]
    assert [e.expected_finding for e in found] == ["exceedance", "below_minimum"]
    outlet = sim.readings(sim.run([plant], scenario="ph-excursion"), "outlet")
    high, low = found
    assert min(r.values["ph"] for r in sim.window(outlet, high.start, high.end)) > 9.0
    assert max(r.values["ph"] for r in sim.window(outlet, low.start, low.end)) < 5.5
    assert high.end <= low.start


def test_calibration_carries_status_01_with_wild_values(sim, plant):
    calibration = only(sim, plant, "calibration")
    assert calibration.expected_finding is None
    outlet = sim.readings(sim.run([plant], scenario="calibration"), "outlet")
    inside = sim.window(outlet, calibration.start, calibration.end)
    assert len(inside) == 2
    assert all(r.status == {"cod": 1} for r in inside)
    assert any(r.values["cod"] > COD_LIMIT for r in inside)
    assert all(not r.status for r in outlet if r not in inside)
    # Counted wrongly, the calibration hour would exceed; counted rightly it does not.
    hour = calibration.start.replace(minute=0)
    everything = sim.window(outlet, hour, hour + sim.HOUR)
    valid = [r for r in everything if not r.status]
    assert sim.mean(everything, "cod") > COD_LIMIT > sim.mean(valid, "cod")


def test_device_error_carries_status_02(sim, plant):
    error = only(sim, plant, "device-error")
    assert error.expected_finding == "insufficient_data"
    outlet = sim.readings(sim.run([plant], scenario="device-error"), "outlet")
    inside = sim.window(outlet, error.start, error.end)
    assert len(inside) == 12
    assert all(r.status == {"tss": 2} for r in inside)
    assert all(not r.status for r in outlet if r not in inside)


def test_stuck_sensor_repeats_one_value(sim, plant):
    stuck = only(sim, plant, "stuck-sensor")
    outlet = sim.readings(sim.run([plant], scenario="stuck-sensor"), "outlet")
    inside = {r.values["nh4_n"] for r in sim.window(outlet, stuck.start, stuck.end)}
    before = {r.values["nh4_n"] for r in sim.window(outlet, sim.MONDAY, stuck.start)}
    assert len(inside) == 1
    assert len(before) > 5


def test_drift_crosses_the_limit(sim, plant):
    drift = only(sim, plant, "drift")
    outlet = sim.readings(sim.run([plant], scenario="drift"), "outlet")
    first = sim.window(outlet, drift.start, drift.start + sim.HOUR)
    last = sim.window(outlet, drift.end - sim.HOUR, drift.end)
    assert sim.mean(first, "cod") < COD_LIMIT < sim.mean(last, "cod")
    values = [r.values["cod"] for r in sim.window(outlet, drift.start, drift.end)]
    assert values[-1] > values[0] + 100


def test_dropout_silences_the_station(sim, plant):
    dropout = only(sim, plant, "dropout")
    assert dropout.expected_finding == "no_data"
    outlet = sim.readings(sim.run([plant], scenario="dropout"), "outlet")
    assert not sim.window(outlet, dropout.start, dropout.end)
    assert sim.window(outlet, dropout.start - sim.HOUR, dropout.start)
    assert sim.window(outlet, dropout.end, dropout.end + sim.HOUR)
    assert len(outlet) == 72 - 12


def test_link_outage_is_one_backfill_array(sim, plant):
    outage = only(sim, plant, "link-outage")
    messages = sim.run([plant], scenario="link-outage")
    backfill = [m for m in messages if m.kind == "backfill"]
    assert len(backfill) == 1
    doc = sim.doc(backfill[0])
    assert isinstance(doc, list) and len(doc) == 12 == backfill[0].records
    assert backfill[0].at == outage.end
    held = parse_message(backfill[0].topic, backfill[0].payload)
    assert all(outage.start <= r.ts < outage.end for r in held)
    singles = [m for m in messages if m.kind == "data" and m.topic.endswith("/outlet/data")]
    assert not sim.window(sim.readings(singles), outage.start, outage.end)
    seqs = [r.seq for r in sim.readings(messages, "outlet")]
    assert sorted(seqs) == list(range(1, 73))
    # Published after the records that follow it in time? No: right when the link returns.
    index = messages.index(backfill[0])
    assert all(m.at <= outage.end for m in messages[:index])


def test_bypass_flows_only_during_the_episode(sim, plant):
    bypass = only(sim, plant, "bypass")
    assert bypass.expected_finding == "bypass"
    flows = sim.readings(sim.run([plant], scenario="bypass"), "bypass")
    inside = sim.window(flows, bypass.start, bypass.end)
    assert inside and all(r.values["flow_bypass"] > 5.0 for r in inside)
    assert all(r.values["flow_bypass"] == 0.0 for r in flows if r not in inside)


def test_overload_exceeds_the_design_rate(sim, plant):
    overload = only(sim, plant, "overload")
    messages = sim.run([plant], scenario="overload")
    ramp = timedelta(minutes=15)
    inlet = sim.window(sim.readings(messages, "inlet"), overload.start + ramp, overload.end - ramp)
    outlet = sim.window(sim.readings(messages, "outlet"), overload.start, overload.end)
    design = 1500 / 24
    assert min(r.values["flow_in"] for r in inlet) > 1.5 * design
    assert sim.mean(outlet, "flow_out") < 0.75 * sim.mean(inlet, "flow_in")
    assert max(r.values["flow_out"] for r in outlet) < 1.4 * design
    flows = [r.values["flow_out"] for r in outlet]
    steps = [abs(b - a) for a, b in itertools.pairwise(flows)]
    assert max(steps) < 0.15 * design  # ramps, not a step change a monitor would call a fault


def test_clock_skew_offsets_timestamps(sim, plant):
    skew = only(sim, plant, "clock-skew")
    inlet = sim.readings(sim.run([plant], scenario="clock-skew"), "inlet")
    skewed = [r for r in inlet if r.ts.minute % 5 != 0]
    assert len(skewed) == 24
    assert all(r.ts.minute % 5 == 2 for r in skewed)
    assert all(skew.start < r.ts <= skew.end + timedelta(minutes=7) for r in skewed)


def test_duplicates_are_byte_identical(sim, plant):
    messages = sim.run([plant], scenario="duplicates")
    duplicates = [i for i, m in enumerate(messages) if m.kind == "duplicate"]
    assert len(duplicates) == 6
    for index in duplicates:
        assert messages[index].payload == messages[index - 1].payload
        assert messages[index].topic.endswith("/outlet/data")


def test_malformed_sends_one_rejected_message_per_class(sim, plant):
    messages = [m for m in sim.run([plant], scenario="malformed") if m.kind == "malformed"]
    assert len(messages) == len(MALFORMED_CLASSES) == 7
    reasons = []
    for message in messages:
        with pytest.raises(PayloadError) as caught:
            parse_message(message.topic, message.payload)
        reasons.append(str(caught.value))
    assert len(set(reasons)) == 7
    assert any("too large" in reason for reason in reasons)
    assert any("bad station id" in reason for reason in reasons)
    assert sum(m.records for m in messages) == 0


def test_normal_has_no_episodes(sim, plant):
    assert episodes(sim, plant, "normal") == ()


def test_composition_ignores_order(sim, plant):
    a = [m.payload for m in sim.run([plant], scenario="cod-spike,calibration")]
    b = [m.payload for m in sim.run([plant], scenario="calibration, cod-spike")]
    assert a == b
    kinds = {e.kind for e in episodes(sim, plant, "cod-spike,calibration")}
    assert kinds == {"cod-spike", "calibration"}


def test_same_lane_episodes_do_not_overlap_in_a_day(sim, plant):
    found = episodes(sim, plant, "all", duration=timedelta(hours=24))
    lanes = [e for e in found if e.parameter == "cod" or e.kind == "dropout"]
    for a in lanes:
        for b in lanes:
            if a is not b:
                assert a.end <= b.start or b.end <= a.start, (a.kind, b.kind)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no scenario"), ("cod-spike,nope", "unknown scenario 'nope'")],
)
def test_bad_scenario_names(text, message):
    with pytest.raises(SimulatorError, match=message):
        parse_scenarios(text)


def test_scenario_on_a_plant_without_the_parameter(sim):
    plant = sim.kim_bai(stations={"outlet": ["flow_out", "cod"]})
    with pytest.raises(SimulatorError, match="'tss'"):
        episodes(sim, plant, "device-error")
