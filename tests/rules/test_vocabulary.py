"""The bilingual vocabulary: complete in both languages, agreeing with the regulation tables,
numbers and dates written the way each language writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from rules.errors import RulesError
from rules.findings import BASES, KINDS, SEVERITIES
from rules.regulation import known_regulations, load_regulation
from rules.vocabulary import LANGS, Vocabulary, load_terms

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VI = Vocabulary.for_lang("vi")
EN = Vocabulary.for_lang("en")
# SPEC "Console": acknowledgement reasons are these codes, in this order
ACK_REASONS = ("maintenance", "calibration", "process_upset", "sensor_fault", "false_alarm",
               "other")


def test_unknown_language_is_refused() -> None:
    with pytest.raises(RulesError, match="unsupported language 'fr'"):
        Vocabulary.for_lang("fr")
    assert [Vocabulary.for_lang(lang).lang for lang in LANGS] == ["vi", "en"]


@pytest.mark.parametrize("regulation", known_regulations())
def test_every_regulation_row_has_words_and_the_same_unit(regulation: str) -> None:
    terms = load_terms()
    for row in load_regulation(regulation).parameters:
        assert row.key in terms.parameters, row.key
        assert terms.parameters[row.key].unit == row.unit, row.key


def test_every_code_of_the_rules_has_words() -> None:
    for words in (VI, EN):
        for code in KINDS:
            assert words.kind(code) != code
        for code in BASES:
            assert words.basis(code) != code
        for code in SEVERITIES:
            assert words.severity(code) != code


def test_severity_words_are_distinct_and_ordered_as_the_codes() -> None:
    for words in (VI, EN):
        names = [words.severity(code) for code in SEVERITIES]
        assert len(set(names)) == len(names), names
    assert [VI.severity(c) for c in SEVERITIES] == [
        "Thông tin", "Cảnh báo", "Nhẹ", "Nghiêm trọng", "Rất nghiêm trọng"]


def test_reason_codes_are_the_spec_ones() -> None:
    assert tuple(code for code, _ in VI.reason_choices()) == ACK_REASONS
    assert dict(VI.reason_choices())["false_alarm"] == "Cảnh báo sai"
    assert EN.reason("process_upset") == "Process upset"


@pytest.mark.parametrize(
    ("key", "vi", "en", "unit"),
    [
        # QCVN 40:2011 Table 1 wording; alerts used to say "amoni (NH₄⁺-N)"
        ("nh4_n", "Amoni (tính theo N)", "Ammonium (as N)", "mg/L"),
        ("total_p", "Tổng phốt pho (tính theo P)", "Total phosphorus (as P)", "mg/L"),
        ("ph", "pH", "pH", ""),
        ("flow_out", "Lưu lượng ra", "Outflow", "m³/h"),
        ("unknown_key", "unknown_key", "unknown_key", ""),
    ],
)
def test_parameter_words(key: str, vi: str, en: str, unit: str) -> None:
    assert (VI.parameter(key), EN.parameter(key), VI.unit(key)) == (vi, en, unit)


@pytest.mark.parametrize(
    ("name", "inside"),
    [("Amoni (tính theo N)", "amoni (tính theo N)"), ("COD", "COD"), ("pH", "pH"),
     ("BOD5 (20 °C)", "BOD5 (20 °C)"), ("Đầu ra", "đầu ra"), ("Tổng PCB", "tổng PCB"), ("", "")],
)
def test_in_sentence(name: str, inside: str) -> None:
    assert Vocabulary.in_sentence(name) == inside


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [(135.0, "135", "135"), (5.5, "5,5", "5.5"), (0.005, "0,005", "0.005"),
     (5000.0, "5.000", "5,000"), (1500.5, "1.500,5", "1,500.5"), (-0.0, "0", "0"),
     (1e-05, "0,00001", "0.00001"), (None, "", ""), (float("nan"), "", "")],
)
def test_shortest_exact_decimal(value: float | None, vi: str, en: str) -> None:
    assert (VI.format_decimal(value), EN.format_decimal(value)) == (vi, en)


def test_fixed_numbers_percent_coefficients_and_limits() -> None:
    assert (VI.format_number(1500.5, 1), EN.format_number(1500.5, 1)) == ("1.500,5", "1,500.5")
    assert VI.format_number(41751.64, 2) == "41.751,64"
    assert (VI.format_percent(0.975), EN.format_percent(0.975)) == ("97,5 %", "97.5 %")
    assert VI.format_decimal(151.23456, max_digits=3) == "151,235"
    assert (VI.format_coefficient(1.0), VI.format_coefficient(0.9)) == ("1,0", "0,9")
    assert VI.format_limit(5.5, 9.0) == "5,5–9"
    assert VI.format_limit(None, 135.0, "mg/L") == "≤ 135 mg/L"
    assert EN.format_limit(6.0, None, "") == "≥ 6"
    assert VI.format_limit(None, None, "mg/L") == ""


def test_dates_and_times() -> None:
    moment = datetime(2026, 10, 1, 7, 5, tzinfo=UTC)  # 14:05 in Hanoi
    assert VI.format_datetime(moment, ZONE) == "01/10/2026 14:05"
    assert EN.format_datetime(moment, ZONE) == "2026-10-01 14:05"
    assert (VI.format_date(date(2026, 10, 1)), EN.format_date(date(2026, 10, 1))) == (
        "01/10/2026", "2026-10-01")
    with pytest.raises(RulesError, match="naive"):
        VI.format_datetime(datetime(2026, 10, 1), ZONE)


@pytest.mark.parametrize(
    ("start", "end", "vi", "en"),
    [
        ((2026, 10, 1), (2026, 11, 1), "tháng 10/2026", "October 2026"),
        ((2026, 12, 1), (2027, 1, 1), "tháng 12/2026", "December 2026"),
        ((2026, 10, 5), (2026, 10, 6), "05/10/2026", "2026-10-05"),
        ((2026, 10, 1), (2026, 10, 8), "01/10/2026 – 07/10/2026", "2026-10-01 – 2026-10-07"),
        ((2026, 10, 1, 6), (2026, 10, 2, 18),
         "01/10/2026 06:00 – 02/10/2026 18:00", "2026-10-01 06:00 – 2026-10-02 18:00"),
    ],
)
def test_periods(start: tuple[int, ...], end: tuple[int, ...], vi: str, en: str) -> None:
    begin, finish = datetime(*start, tzinfo=ZONE), datetime(*end, tzinfo=ZONE)
    # the period is read in the plant's zone whatever zone the bounds come in
    assert VI.format_period(begin.astimezone(UTC), finish, ZONE) == vi
    assert EN.format_period(begin, finish, ZONE) == en


def test_regulation_terms_use_the_official_designation() -> None:
    assert VI.designation("qcvn40-2011") == "QCVN 40:2011/BTNMT"
    assert VI.regulation_terms("qcvn40-2011", "B", 0.9, 1.0) == (
        "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0")
    assert EN.regulation_terms("qcvn40-2011", "B", 0.9, 1.0, exempt=True) == (
        "QCVN 40:2011/BTNMT column B (no Kq/Kf)")
    assert VI.regulation_terms("qcvn40-2025", "C") == "QCVN 40:2025/BTNMT cột C"
    assert VI.limit_origin("permit", "qcvn40-2011", "B") == "giấy phép"
    with pytest.raises(RulesError, match="unknown regulation"):
        VI.designation("qcvn99")


def test_limit_notes_in_both_languages() -> None:
    assert VI.limit_note("kq_from_water", kq=0.9, water="river") == (
        "Kq 0,9 theo nguồn tiếp nhận (sông, suối, kênh, mương)")
    assert EN.limit_note("kq_ignored", regulation="qcvn40-2025", kq=0.9) == (
        "QCVN 40:2025/BTNMT uses no Kq/Kf: kq 0.9 ignored")
    with pytest.raises(RulesError, match="no words for limit note"):
        VI.limit_note("nonsense")


def test_a_finding_figure_reads_as_a_person_reads_it() -> None:
    """Fractions (completeness, treatment, collection) as percentages, measurements to two
    decimals, limits as the permit writes them."""
    vi, en = Vocabulary.for_lang("vi"), Vocabulary.for_lang("en")
    assert (vi.format_figure("insufficient_data", 0.0),
            vi.format_figure("insufficient_data", 0.75, limit=True)) == ("0,0 %", "75,0 %")
    assert en.format_figure("treatment_shortfall", 0.952) == "95.2 %"
    assert vi.format_figure("collection_shortfall", 0.847) == "84,7 %"
    assert vi.format_figure("exceedance", 272.891) == "272,89"
    assert vi.format_figure("exceedance", 135.0, limit=True) == "135"
    assert vi.format_figure("exceedance", None) == ""
