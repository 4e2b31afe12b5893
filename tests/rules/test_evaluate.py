"""evaluate / instantaneous_findings / render_text, and the [checks] settings."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from rules.errors import RulesError
from rules.evaluate import evaluate, render_text
from rules.limits import plant_limits
from rules.settings import CheckSettings
from tests.rules.inline_reference import instantaneous_findings

DAY0 = (2026, 10, 4, 17)  # 2026-10-05 00:00 in Hanoi
N = 288


def wobble(base: float, n: int = N) -> np.ndarray:
    """Readings near `base` that never repeat (constant data would be a stuck sensor)."""
    return base + 0.01 * np.sin(np.arange(n))


def test_frame_with_several_plants_and_unsorted_rows(frames: Any) -> None:
    start = frames.utc(*DAY0)
    mine = wobble(100.0)
    mine[120:132] = 150.0
    frame = frames.combine(
        frames.station(start, {"cod": mine}),
        frames.station(start, {"cod": wobble(900.0)}, plant="other"),
        frames.station(start, {"cod": wobble(900.0)}, station="inlet"),
    ).iloc[::-1]
    result = evaluate(frame, frames.plant(stations={"outlet": ["cod"], "inlet": ["cod"]}),
                      CheckSettings(), start, start + timedelta(days=1), now=start +
                      timedelta(days=2))
    # the inlet is not a compliance station; the other plant is ignored
    assert [(f.station, f.kind, f.basis, f.value) for f in result.findings] == [
        ("outlet", "exceedance", "hourly_mean", 150.0)]
    doc = json.loads(json.dumps(result.to_json()))
    assert list(doc) == ["findings", "treatment", "completeness", "clusters"]
    assert len(doc["completeness"]) == 2


def test_findings_sorted_by_start(frames: Any) -> None:
    start = frames.utc(*DAY0)
    cod = wobble(100.0)
    cod[200:212] = 300.0
    ph = wobble(7.0)
    ph[20:32] = 10.0
    frame = frames.station(start, {"cod": cod, "ph": ph})
    result = evaluate(frame, frames.plant(), CheckSettings(), start, start + timedelta(days=1),
                      now=start + timedelta(days=1))
    starts = [f.start for f in result.findings]
    assert starts == sorted(starts) and len(starts) >= 2
    assert result.findings[0].parameter == "ph"


def test_mid_month_permit_change(frames: Any) -> None:
    """From 2026-10-15 the permit tightens COD to 100: the same 120 mg/L fails only then."""
    start = frames.utc(2026, 10, 12, 17)  # 2026-10-13 local
    frame = frames.station(start, {"cod": np.full(4 * N, 120.0)})
    plant = frames.plant(stations={"outlet": ["cod"]},
                         permit_changes=[{"effective": "2026-10-15", "limits": {"cod": 100}}])
    result = evaluate(frame, plant, CheckSettings(default_bases=("daily_mean",)), start,
                      start + timedelta(days=4), now=start + timedelta(days=5))
    found = [f for f in result.findings if f.kind == "exceedance"]
    assert [(f.start.date().isoformat(), f.end.date().isoformat(), f.limit) for f in found] == [
        ("2026-10-15", "2026-10-17", 100.0)]


def test_permit_override(frames: Any) -> None:
    start = frames.utc(*DAY0)
    frame = frames.station(start, {"cod": wobble(120.0)})
    plant = frames.plant(stations={"outlet": ["cod"]}, limits={"cod": 110})
    result = evaluate(frame, plant, CheckSettings(default_bases=("daily_mean",)), start,
                      start + timedelta(days=1), now=start + timedelta(days=1))
    (f,) = result.findings
    assert (f.limit, f.ratio) == (110.0, pytest.approx(120 / 110, rel=1e-3))


def test_bad_range_and_future(frames: Any) -> None:
    start = frames.utc(*DAY0)
    with pytest.raises(RulesError, match="empty check range"):
        evaluate(frames.station(start, {"cod": [1.0]}), frames.plant(), CheckSettings(),
                 start, start, now=start)
    with pytest.raises(RulesError, match="timezone-aware"):
        evaluate(frames.station(start, {"cod": [1.0]}), frames.plant(), CheckSettings(),
                 start.replace(tzinfo=None), start + timedelta(hours=1), now=start)
    empty = evaluate(frames.station(start, {"cod": [1.0]}), frames.plant(), CheckSettings(),
                     start, start + timedelta(hours=1), now=start - timedelta(hours=1))
    assert empty.to_json() == {"findings": [], "treatment": [], "completeness": [], "clusters": []}


def test_instantaneous_findings_on_a_batch(frames: Any) -> None:
    start = frames.utc(*DAY0)
    plant = frames.plant(stations={"outlet": ["cod", "ph", "tss"], "bypass": ["flow_bypass"]})
    batch = frames.combine(
        frames.station(start, {"cod": [100.0, 140.0, 500.0, 100.0], "ph": [7.0, 7.0, 5.0, 7.0],
                               "tss": [-1.0, 20.0, 20.0, 20.0]}),
        frames.station(start, {"flow_bypass": [0.0, 0.0, 3.0, 0.0]}, station="bypass"),
    )
    found = instantaneous_findings(batch, plant, CheckSettings(),
                                   plant_limits(plant, date(2026, 10, 5)))
    got = [(f.parameter, f.kind, f.basis, f.value, f.severity) for f in found]
    assert got == [
        ("tss", "sensor_fault", "instantaneous", -1.0, "warning"),
        ("cod", "exceedance", "instantaneous", 500.0, "critical"),
        ("flow_bypass", "bypass", "instantaneous", 3.0, "critical"),
        ("ph", "below_minimum", "instantaneous", 5.0, "minor"),  # 5.5 / 5.0 = 1.1
    ]
    cod = found[1]
    assert (cod.start.strftime("%H:%M"), cod.end.strftime("%H:%M")) == ("00:05", "00:10")
    assert instantaneous_findings(batch.iloc[0:0], plant, CheckSettings(),
                                  plant_limits(plant, date(2026, 10, 5))) == []


def test_render_text(frames: Any) -> None:
    start = frames.utc(*DAY0)
    cod = np.full(N, 100.0)
    cod[120:132] = 150.0
    cod[:30] = np.nan
    frame = frames.station(start, {"cod": cod})
    result = evaluate(frame, frames.plant(stations={"outlet": ["cod"]}), CheckSettings(), start,
                      start + timedelta(days=1), now=start + timedelta(days=1))
    text = render_text(result)
    assert "Findings: " in text
    assert "minor    exceedance" in text and "value 150.00 limit 135.00 (×1.11)" in text
    assert "insufficient_data" in text
    assert "2026-10-05 outlet/cod" in text and "258/288 valid (89.6 %)" in text


def test_settings_defaults_and_validation() -> None:
    s = CheckSettings()
    assert s.min_valid_fraction == 0.75 and s.treatment_target == 1.0
    assert s.default_bases == ("hourly_mean", "daily_mean")
    assert s.alert_bases == ("instantaneous",)
    assert s.lateness_delta == timedelta(hours=48)
    assert s.physical_range("ph") == (0.0, 14.0)
    assert s.physical_range("cod") == (0.0, float("inf"))
    assert [s.severity.classify(r) for r in (1.0, 1.1, 1.49, 1.5, 2.99, 3.0)] == [
        "warning", "minor", "minor", "major", "major", "critical"]
    assert CheckSettings(bases={"cod": ("daily_mean",)}).bases_for("cod") == ("daily_mean",)
    for bad in ({"surprise": 1}, {"severity": {"minor": 2.0, "major": 1.5}},
                {"min_valid_fraction": 0}, {"lateness": "soon"},
                {"default_bases": ["weekly_mean"]}):
        with pytest.raises(ValidationError):
            CheckSettings.model_validate(bad)
