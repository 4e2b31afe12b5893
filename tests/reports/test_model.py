"""The report model: Art. 25 figures, treatment from the CheckResult, days, verdict, data hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from reports.errors import ReportsError
from reports.html import render_html
from reports.labels import labels_for
from reports.model import AlertRow, build_report, canonical_csv, period_label
from rules.limits import plant_limits
from rules.results import CheckResult, TreatmentRow
from rules.vocabulary import LANGS
from tests.reports.sample_plant import (
    END,
    GENERATED,
    LIMITS,
    START,
    make_frame,
    make_plant,
    make_report,
    make_result,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _param(report, station, key):
    return next(p for p in report.parameters if (p.station, p.parameter) == (station, key))


@pytest.mark.parametrize(
    ("key", "valid_count", "maximum", "over", "episodes", "worst", "cal_min", "err_min"),
    [
        # 24 calibrating readings (value 999) are excluded from figures and the over-limit count
        ("cod", 864 - 24, 151.2, 12, 1, 1.12, 120.0, 0.0),
        ("tss", 864 - 6, 26.0, 0, 0, None, 0.0, 30.0),
        ("ph", 864, 7.2, 1, 1, 0.91, 0.0, 0.0),
        ("nh4_n", 864, 3.0, 0, 0, None, 0.0, 0.0),
    ],
)
def test_parameter_figures(report_vi, key, valid_count, maximum, over, episodes, worst,
                           cal_min, err_min):
    p = _param(report_vi, "outlet", key)
    assert p.valid_count == valid_count
    assert p.max == pytest.approx(maximum)
    assert p.over_limit == over
    assert p.episodes == episodes
    assert p.worst_ratio == worst
    assert p.calibrating_minutes == cal_min
    assert p.error_minutes == err_min


def test_parameter_limits_apply_only_to_discharge_station(report_vi):
    assert _param(report_vi, "outlet", "cod").limit_max == 135.0
    assert _param(report_vi, "outlet", "ph").limit_min == 5.5
    inlet = _param(report_vi, "inlet", "flow_in")
    assert inlet.limit_max is None and inlet.over_limit == 0


def test_completeness_from_result(report_vi):
    cod = _param(report_vi, "outlet", "cod")
    assert (cod.expected, cod.valid) == (3 * 288, 3 * 288 - 24)
    assert cod.completeness == pytest.approx(840 / 864)


def test_treatment_comes_from_result_unchanged(report_vi):
    mine = [r for r in make_result().treatment if r.plant == "kim-bai"]
    assert list(report_vi.treatment_days) == mine
    total = report_vi.treatment_total
    assert total.inflow_m3 == 4500.0 and total.bypass_m3 == 15.0
    assert total.compliant_ratio == pytest.approx((0.976 + 0.9353 + 0.976) / 3)


def test_month_row_of_result_is_the_total():
    result = make_result()
    month = TreatmentRow("kim-bai", "2026-10", 4500.0, 4392.0, 15.0, 0.976, 0.95)
    result = CheckResult(result.findings, [*result.treatment, month], result.completeness)
    report = build_report(make_frame(), make_plant(), result, LIMITS, START, END,
                          generated_at=GENERATED, version="x")
    assert report.treatment_total == month
    assert len(report.treatment_days) == 3


def test_daily_rows(report_vi):
    assert [d.date for d in report_vi.days] == [date(2026, 10, d) for d in (1, 2, 3)]
    assert [d.status for d in report_vi.days] == ["ok", "violation", "violation"]
    assert [d.over_limit for d in report_vi.days] == [0, 12, 1]
    assert report_vi.days[1].treatment.bypass_m3 == 15.0
    assert report_vi.days[0].means["cod"] == pytest.approx(
        make_frame().query("station == 'outlet'")["cod"].iloc[:288].mean())


def test_verdict_noncompliant_names_the_problems(report_vi, report_en):
    assert report_vi.verdict_status == "noncompliant"
    assert report_vi.verdict.startswith("KHÔNG ĐẠT")
    assert "vượt ngưỡng (COD)" in report_vi.verdict
    assert "NOT COMPLIANT" in report_en.verdict and "untreated bypass" in report_en.verdict


def test_verdict_compliant_when_clean():
    days = [TreatmentRow("kim-bai", f"2026-10-0{d}", 1500, 1500, 0, 1.0, 1.0) for d in (1, 2, 3)]
    result = CheckResult([], days, make_result().completeness)
    report = build_report(make_frame(), make_plant(), result, LIMITS, START, END,
                          lang="en", generated_at=GENERATED, version="x")
    assert report.verdict_status == "compliant"
    assert report.verdict.startswith("COMPLIANT")


def test_verdict_no_data():
    empty = make_frame().iloc[0:0]
    report = build_report(empty, make_plant(), CheckResult(), LIMITS, START, END,
                          generated_at=GENERATED, version="x")
    assert report.verdict_status == "no_data"
    assert report.data_rows == 0
    assert all(d.status == "no_data" for d in report.days)


def test_notes_mention_excluded_time(report_en):
    text = " ".join(report_en.notes)
    assert "120 min calibrating" in text
    assert "30 min device error" in text


def test_alerts_shown_in_plant_time_and_words(report_vi):
    (alert,) = report_vi.alerts
    assert alert.acked_by == "Nguyễn Văn An"
    assert alert.acked_at == datetime(2026, 10, 2, 10, 20, tzinfo=ZONE)
    html = render_html(report_vi)
    assert "<td>02/10/2026 10:20</td>" in html  # acked 03:20 UTC, shown in Hanoi time
    assert "<td>Đã kết thúc</td>" in html  # the state in words, not "resolved"
    assert not report_vi.has_reasons and "Lý do" not in html


def test_alert_reason_gets_a_column_when_given():
    row = AlertRow(id="A-1", parameter="cod", kind="exceedance", severity="major",
                   state="firing", start=datetime(2026, 10, 2, 3, tzinfo=UTC), end=None,
                   acked_by="Lan", acked_at=datetime(2026, 10, 2, 4, tzinfo=UTC),
                   note="hiệu chuẩn lại", reason="calibration")
    report = make_report("vi", alerts=[row])
    html = render_html(report)
    assert report.has_reasons and "<th>Lý do</th>" in html and "<td>Hiệu chuẩn</td>" in html


def test_alert_rows_must_have_aware_times():
    with pytest.raises(ReportsError, match="A-1: start must be timezone-aware"):
        AlertRow(id="A-1", parameter="cod", kind="exceedance", severity="major",
                 state="firing", start=datetime(2026, 10, 2, 3), end=None)


def test_naive_times_rejected():
    with pytest.raises(ReportsError):
        build_report(make_frame(), make_plant(), make_result(), LIMITS,
                     START.replace(tzinfo=None), END, generated_at=GENERATED)


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (datetime(2026, 10, 1, tzinfo=ZONE), datetime(2026, 11, 1, tzinfo=ZONE), "2026-10"),
        (datetime(2026, 12, 1, tzinfo=ZONE), datetime(2027, 1, 1, tzinfo=ZONE), "2026-12"),
        (datetime(2026, 10, 5, tzinfo=ZONE), datetime(2026, 10, 6, tzinfo=ZONE), "2026-10-05"),
        (datetime(2026, 10, 1, tzinfo=ZONE), datetime(2026, 10, 16, tzinfo=ZONE),
         "20261001-20261015"),
        # UTC bounds of a local month still make the month label
        (datetime(2026, 9, 30, 17, tzinfo=UTC), datetime(2026, 10, 31, 17, tzinfo=UTC),
         "2026-10"),
    ],
)
def test_period_label(start, end, label):
    assert period_label(start, end, ZONE) == label


def test_canonical_csv_layout():
    frame = pd.DataFrame({
        "time": pd.to_datetime(["2026-10-01T00:05:00+07:00", "2026-10-01T00:00:00+07:00"],
                               utc=True),
        "plant": ["p", "p"],
        "station": ["outlet", "outlet"],
        "ph": [7.1, float("nan")],
        "cod": [0.1 + 0.2, 45.0],
        "cod_status": [0, 1],
        "ph_status": [0, 2],
    })
    assert canonical_csv(frame).decode() == (
        "time,plant,station,cod,ph,cod_status,ph_status\n"
        "2026-09-30T17:00:00Z,p,outlet,45.0,,1,2\n"
        "2026-09-30T17:05:00Z,p,outlet,0.30000000000000004,7.1,0,0\n"
    )


def test_data_hash_is_sha256_of_canonical_csv(report_vi):
    assert report_vi.data_sha256 == hashlib.sha256(report_vi.data_csv).hexdigest()
    assert report_vi.data_rows == 3 * 864
    frame = make_frame()
    frame.loc[100, "cod"] = 41.5
    other = build_report(frame, make_plant(), make_result(), LIMITS, START, END,
                         generated_at=GENERATED, version="x")
    assert other.data_sha256 != report_vi.data_sha256


def test_limits_from_rules_engine():
    plant = make_plant()
    report = build_report(make_frame(), plant, make_result(), plant_limits(plant, START.date()),
                          START, END, generated_at=GENERATED, version="x")
    assert report.plant.kq == 0.9 and report.plant.kf == 1.0
    cod = report.limit("cod")
    assert cod is not None and cod.max == pytest.approx(135.0)
    assert cod.source == "QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0 [C]"
    assert report.limit("ph").source == "QCVN 40:2011/BTNMT cột B (không áp dụng Kq/Kf) [C]"
    # only monitored parameters are printed, not the whole regulation table
    assert report.limit("arsenic") is None


@pytest.mark.parametrize("lang", LANGS)
def test_label_sets_complete(lang):
    words = labels_for(lang)
    assert set(words.text) == set(labels_for("vi").text)


def test_unknown_language():
    with pytest.raises(ReportsError):
        make_report("fr")


def test_vietnamese_wording(report_vi):
    labels, words = report_vi.labels, report_vi.words
    assert labels["title"] == "Báo cáo tuân thủ"
    assert words.kind("exceedance") == "Vượt ngưỡng"
    assert labels["inflow"].startswith("Lưu lượng")
