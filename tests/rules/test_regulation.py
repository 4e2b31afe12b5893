"""Regulation data files: complete, marked, validated; unknown ids named."""

from __future__ import annotations

import pytest

from rules.errors import RulesError
from rules.regulation import known_regulations, load_regulation, parse_regulation

TABLE_1 = {  # key: (unit, A, B) straight from REGULATIONS.md Table 1 (pH as (min, max))
    "temperature": ("°C", 40, 40), "color": ("Pt-Co", 50, 150),
    "ph": ("", (6, 9), (5.5, 9)), "bod5": ("mg/L", 30, 50), "cod": ("mg/L", 75, 150),
    "tss": ("mg/L", 50, 100), "arsenic": ("mg/L", 0.05, 0.1), "mercury": ("mg/L", 0.005, 0.01),
    "lead": ("mg/L", 0.1, 0.5), "cadmium": ("mg/L", 0.05, 0.1),
    "chromium_vi": ("mg/L", 0.05, 0.1), "chromium_iii": ("mg/L", 0.2, 1),
    "copper": ("mg/L", 2, 2), "zinc": ("mg/L", 3, 3), "nickel": ("mg/L", 0.2, 0.5),
    "manganese": ("mg/L", 0.5, 1), "iron": ("mg/L", 1, 5), "cyanide": ("mg/L", 0.07, 0.1),
    "phenol": ("mg/L", 0.1, 0.5), "oil_grease": ("mg/L", 5, 10), "sulfide": ("mg/L", 0.2, 0.5),
    "fluoride": ("mg/L", 5, 10), "nh4_n": ("mg/L", 5, 10), "total_n": ("mg/L", 20, 40),
    "total_p": ("mg/L", 4, 6), "chloride": ("mg/L", 500, 1000),
    "residual_chlorine": ("mg/L", 1, 2), "pesticide_oc": ("mg/L", 0.05, 0.1),
    "pesticide_op": ("mg/L", 0.3, 1), "pcb": ("mg/L", 0.003, 0.01),
    "coliform": ("MPN/100 mL", 3000, 5000), "gross_alpha": ("Bq/L", 0.1, 0.1),
    "gross_beta": ("Bq/L", 1.0, 1.0),
}


def test_known_ids() -> None:
    assert known_regulations() == ("qcvn40-2011", "qcvn40-2025")


def test_designations_are_the_official_ones() -> None:
    assert load_regulation("qcvn40-2011").designation == "QCVN 40:2011/BTNMT"


def test_unknown_id_names_the_known_ones() -> None:
    with pytest.raises(RulesError, match=r"qcvn40-2011, qcvn40-2025"):
        load_regulation("qcvn14-2008")


@pytest.mark.parametrize("key", sorted(TABLE_1))
def test_table_1_row(key: str) -> None:
    reg = load_regulation("qcvn40-2011")
    row = reg.parameter(key)
    assert row is not None
    unit, a, b = TABLE_1[key]
    assert row.unit == unit
    for column, expected in (("A", a), ("B", b)):
        bound = row.limits[column]
        if isinstance(expected, tuple):
            assert (bound.min, bound.max) == expected
        else:
            assert (bound.min, bound.max) == (None, expected)


def test_table_1_has_33_rows_with_confidence() -> None:
    reg = load_regulation("qcvn40-2011")
    assert [p.row for p in reg.parameters] == list(range(1, 34))
    for p in reg.parameters:
        assert p.confidence["B"] == "C"
        assert p.confidence["A"] == ("C" if p.row <= 25 else "M")  # type: ignore[operator]


def test_exempt_parameters_and_dates() -> None:
    reg = load_regulation("qcvn40-2011")
    assert set(reg.coefficients.exempt) == {  # type: ignore[union-attr]
        "temperature", "color", "ph", "coliform", "gross_alpha", "gross_beta"}
    assert str(reg.valid_until) == "2031-12-31"
    assert reg.uses_coefficients and reg.table_loaded


@pytest.mark.parametrize(("flow", "kf"), [
    (0, 1.2), (50, 1.2), (50.01, 1.1), (500, 1.1), (500.5, 1.0), (1500, 1.0), (5000, 1.0),
    (5000.1, 0.9), (1e6, 0.9),
])
def test_kf_bands_upper_inclusive(flow: float, kf: float) -> None:
    assert load_regulation("qcvn40-2011").kf_for(flow) == kf


@pytest.mark.parametrize(("water", "flow", "volume", "kq"), [
    ("river", 50, None, 0.9), ("river", 51, None, 1.0), ("river", 200, None, 1.0),
    ("river", 500, None, 1.1), ("river", 501, None, 1.2), ("river", None, None, 0.9),
    ("lake", None, 10e6, 0.6), ("lake", None, 10e6 + 1, 0.8), ("lake", None, 100e6, 0.8),
    ("lake", None, 100e6 + 1, 1.0), ("lake", None, None, 0.6),
    ("coastal_aquatic", None, None, 1.0), ("coastal_other", None, None, 1.3),
])
def test_kq_table(water: str, flow: float | None, volume: float | None, kq: float) -> None:
    assert load_regulation("qcvn40-2011").kq_for(water, flow, volume) == kq


def test_successor_has_dates_and_no_invented_values() -> None:
    reg = load_regulation("qcvn40-2025")
    assert reg.designation == "QCVN 40:2025/BTNMT"
    assert str(reg.effective_from) == "2025-09-01"
    assert str(reg.transition_until) == "2031-12-31"
    assert reg.parameters == () and not reg.table_loaded and not reg.uses_coefficients
    assert set(reg.columns) == {"A", "B", "C"}


def _doc(**extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": "x", "designation": "X", "title": "t", "source": "s",
        "effective_from": "2030-01-01", "status": "s", "formula": "f",
        "formula_confidence": "S", "uses_coefficients": False,
        "table_loaded": True, "columns": {"A": "a", "B": "b"},
    }
    doc.update(extra)
    return doc


def test_volume_band_model() -> None:
    """The successor's shape: a column's limit chosen by discharge-volume band."""
    reg = parse_regulation(_doc(parameters=[{
        "key": "cod", "name": "COD", "unit": "mg/L", "confidence": {"A": "S"},
        "bands": [{"column": "A", "flow_max_m3_day": 500, "max": 10},
                  {"column": "A", "max": 5}],
    }]))
    row = reg.parameter("cod")
    assert row is not None
    assert row.bound("A", 500).max == 10  # type: ignore[union-attr]
    assert row.bound("A", 501).max == 5  # type: ignore[union-attr]
    assert row.bound("B", 100) is None
    with pytest.raises(RulesError, match="discharge volume"):
        row.bound("A", None)


@pytest.mark.parametrize(("extra", "message"), [
    ({"table_loaded": False, "parameters": [{"key": "cod", "name": "c", "unit": "",
      "confidence": {"A": "C"}, "limits": {"A": {"max": 1}}}]}, "table_loaded"),
    ({"parameters": [{"key": "cod", "name": "c", "unit": "", "confidence": {"A": "C"},
      "limits": {"Z": {"max": 1}}}]}, "unknown column"),
    ({"uses_coefficients": True, "parameters": [{"key": "cod", "name": "c", "unit": "",
      "confidence": {"A": "C"}, "limits": {"A": {"max": 1}}}]}, "kf and kq"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_regulation_data_rejected(extra: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_regulation(_doc(**extra))
