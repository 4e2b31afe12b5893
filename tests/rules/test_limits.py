"""Effective limits: Cmax = C × Kq × Kf, exemptions, permit overrides, SPEC JSON shape."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from rules.errors import RulesError
from rules.limits import effective_limits, limit_schedule, plant_limits, render_limits_text
from rules.permit import RangeLimit
from rules.vocabulary import Vocabulary


def test_worked_example_kim_bai() -> None:
    lim = effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=1500)
    assert (lim.kq, lim.kf) == (0.9, 1.0)
    assert lim.limits["cod"].max == 135.0
    assert (lim.limits["ph"].min, lim.limits["ph"].max) == (5.5, 9.0)
    assert lim.limits["temperature"].max == 40.0
    assert lim.limits["tss"].max == 90.0


def test_json_shape_exactly_as_spec() -> None:
    doc = effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=1500).to_json()
    assert list(doc) == ["regulation", "column", "kq", "kf", "limits"]
    assert doc["limits"]["cod"] == {"max": 135.0, "unit": "mg/L"}
    assert doc["limits"]["ph"] == {"min": 5.5, "max": 9.0, "unit": ""}
    assert list(doc["limits"]["ph"]) == ["min", "max", "unit"]
    assert (doc["regulation"], doc["column"], doc["kq"], doc["kf"]) == ("qcvn40-2011", "B", 0.9,
                                                                       1.0)
    assert len(doc["limits"]) == 33
    assert json.loads(json.dumps(doc)) == doc
    spec = json.loads('{"cod": {"max": 135.0, "unit": "mg/L"}, '
                      '"ph": {"min": 5.5, "max": 9.0, "unit": ""}}')
    assert {k: doc["limits"][k] for k in spec} == spec


@pytest.mark.parametrize(("flow", "kf", "cod"), [
    (50, 1.2, 162.0), (500, 1.1, 148.5), (5000, 1.0, 135.0), (5001, 0.9, 121.5), (None, 1.0, 135.0),
])
def test_kf_applied(flow: float | None, kf: float, cod: float) -> None:
    lim = effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=flow)
    assert lim.kf == kf
    assert lim.limits["cod"].max == cod
    assert lim.limits["temperature"].max == 40.0  # exempt from coefficients


@pytest.mark.parametrize("key", ["temperature", "color", "ph", "coliform", "gross_alpha",
                                 "gross_beta"])
def test_exempt_parameters_keep_c(key: str) -> None:
    plain = effective_limits("qcvn40-2011", "A").limits[key]
    scaled = effective_limits("qcvn40-2011", "A", kq=0.6, flow_m3_day=10).limits[key]
    assert (scaled.min, scaled.max) == (plain.min, plain.max)


def test_defaults_are_said() -> None:
    lim = effective_limits("qcvn40-2011", "A")
    assert (lim.kq, lim.kf) == (1.0, 1.0)
    assert [n.code for n in lim.notes] == ["kq_default", "kf_default"]
    english = [n.text(Vocabulary.for_lang("en")) for n in lim.notes]
    assert any("Kq not given" in n for n in english)
    assert any("Kf 1.0" in n for n in english)
    assert "dùng Kf 1,0" in lim.notes[1].text(Vocabulary.for_lang("vi"))
    assert lim.limits["cod"].max == 75.0


@pytest.mark.parametrize(("override", "expected"), [
    (100, (5.5, 100.0)),  # float replaces max, keeps the regulation min
    ({"min": 6.0}, (6.0, 9.0)),
    (RangeLimit(min=6.5, max=8.5), (6.5, 8.5)),
])
def test_ph_override_merges(override: Any, expected: tuple[float, float]) -> None:
    lim = effective_limits("qcvn40-2011", "B", overrides={"ph": override}).limits["ph"]
    assert (lim.min, lim.max) == expected
    assert lim.source == "permit"


def test_override_wins_and_source_kept() -> None:
    lim = effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=1500,
                           overrides={"cod": 100, "colour_extra": 3})
    assert lim.limits["cod"].max == 100 and lim.limits["cod"].source == "permit"
    assert lim.limits["tss"].source == "regulation"
    assert lim.limits["colour_extra"].unit == ""


@pytest.mark.parametrize(("args", "message"), [
    (("qcvn40-2011", "C"), "column 'C' not in qcvn40-2011"),
    (("nope", "B"), "known: qcvn40-2011, qcvn40-2025"),
    (("qcvn40-2025", "B"), "table not loaded"),
])
def test_errors(args: tuple[str, str], message: str) -> None:
    with pytest.raises(RulesError, match=message):
        effective_limits(*args)


def test_out_of_force_date() -> None:
    with pytest.raises(RulesError, match="until 2031-12-31"):
        effective_limits("qcvn40-2011", "B", on=date(2032, 1, 1))
    with pytest.raises(RulesError, match="from 2025-09-01"):
        effective_limits("qcvn40-2025", "B", overrides={"cod": 50}, on=date(2025, 8, 31))


def test_successor_takes_permit_values_only() -> None:
    lim = effective_limits("qcvn40-2025", "C", overrides={"cod": 80, "ph": {"min": 6, "max": 9}},
                           flow_m3_day=1500, on=date(2026, 1, 1))
    assert (lim.kq, lim.kf) == (None, None)
    assert lim.to_json()["limits"] == {"cod": {"max": 80.0, "unit": "mg/L"},
                                       "ph": {"min": 6.0, "max": 9.0, "unit": ""}}


@pytest.mark.parametrize(("water", "cod"), [
    ({"type": "river", "flow_m3_s": 30}, 135.0),
    ({"type": "river", "flow_m3_s": 300}, 165.0),
    ({"type": "lake"}, 90.0),
    ({"type": "coastal_other"}, 195.0),
])
def test_kq_from_receiving_water(frames: Any, water: dict[str, Any], cod: float) -> None:
    plant = frames.plant(kq=None, receiving_water=water)
    assert plant_limits(plant, date(2026, 10, 1)).limits["cod"].max == cod


def test_permit_kq_wins_over_receiving_water(frames: Any) -> None:
    plant = frames.plant(kq=0.9, receiving_water={"type": "coastal_other"})
    assert plant_limits(plant, date(2026, 10, 1)).kq == 0.9


def test_permit_change_applies_from_its_date(frames: Any) -> None:
    plant = frames.plant(limits={"cod": 120}, permit_changes=[
        {"effective": "2026-10-15", "limits": {"cod": 100}},
        {"effective": "2026-11-01", "column": "A", "kq": 1.0},
    ])
    assert plant_limits(plant, date(2026, 10, 14)).limits["cod"].max == 120
    assert plant_limits(plant, date(2026, 10, 15)).limits["cod"].max == 100
    nov = plant_limits(plant, date(2026, 11, 1))
    assert (nov.column, nov.kq, nov.limits["cod"].max, nov.limits["tss"].max) == ("A", 1.0, 100,
                                                                               50.0)
    schedule = limit_schedule(plant, frames.utc(2026, 9, 30, 17), frames.utc(2026, 10, 31, 17))
    assert len(schedule.limits) == 2
    assert schedule.starts[1].isoformat() == "2026-10-15T00:00:00+07:00"


@pytest.mark.parametrize(("changes", "message"), [
    ({"column": "C"}, "column 'C' not in qcvn40-2011"),
    ({"regulation": "qcvn40-2025"}, "give the limits from the permit"),
    ({"regulation": "qcvn99"}, "unknown regulation"),
    ({"permit_changes": [{"effective": "2026-02-01"}, {"effective": "2026-01-01"}]}, "in order"),
])
def test_plant_validation(frames: Any, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        frames.plant(**changes)


def test_render_text() -> None:
    text = render_limits_text(effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=1500,
                                               overrides={"nh4_n": 8}))
    assert "QCVN 40:2011/BTNMT column B — Kq 0.9, Kf 1.0" in text
    lines = {line.split()[0]: line for line in text.splitlines()[3:] if line.strip()}
    assert "≤ 135" in lines["cod"] and "Kq 0.9 × Kf 1.0 [C]" in lines["cod"]
    assert "5.5–9" in lines["ph"] and "no Kq/Kf" in lines["ph"]
    assert "permit" in lines["nh4_n"] and "≤ 8" in lines["nh4_n"]


def test_source_text_in_both_languages() -> None:
    lim = effective_limits("qcvn40-2011", "B", kq=0.9, flow_m3_day=1500,
                           overrides={"nh4_n": 8})
    vi, en = Vocabulary.for_lang("vi"), Vocabulary.for_lang("en")
    assert lim.source_text("cod", vi) == "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0 [C]"
    assert lim.source_text("ph", vi) == "QCVN 40:2011/BTNMT cột B (không áp dụng Kq/Kf) [C]"
    assert lim.source_text("nh4_n", vi) == "giấy phép"
    assert lim.source_text("cod", en) == "QCVN 40:2011/BTNMT column B × Kq 0.9 × Kf 1.0 [C]"
    assert lim.limits["ph"].exempt and not lim.limits["cod"].exempt
