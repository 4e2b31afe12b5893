"""Operator messages: Vietnamese with correct diacritics, English, overrides; every word from
the shared vocabulary (rules/vocabulary.py)."""

from __future__ import annotations

import pytest

from alerts.alert import STATES, Alert
from alerts.errors import AlertsError
from alerts.lifecycle import NOTIFYING
from alerts.messages import Messages
from alerts.settings import TemplateOverride
from rules.permit import Plant
from rules.vocabulary import Vocabulary
from tests.alerts.conftest import KIM_BAI, T0

# KIM_BAI with its permit's Kq: COD 150 × 0.9 × 1.0 = 135 mg/L, the limit of alert() below
KIM_BAI_KQ = Plant.model_validate({**KIM_BAI.model_dump(), "kq": 0.9})


def alert(**changes: object) -> Alert:
    base = Alert(
        id="A-000123",
        cluster="kim-bai",
        plant="kim-bai",
        station="outlet",
        parameter="cod",
        kind="exceedance",
        state="firing",
        severity="minor",
        basis="hourly_mean",
        value=151.2,
        limit=135.0,
        ratio=1.12,
        started_at=T0,
        last_end=T0,
        opened_at=T0,
        last_breach_at=T0,
    )
    return base.evolve(**changes)


def test_vietnamese_fired_message_names_everything() -> None:
    subject, body = Messages().render(alert(), "fired", "vi", KIM_BAI_KQ, T0)
    assert subject == "[CẢNH BÁO] Vượt ngưỡng COD tại đầu ra – Kim Bai WWTP (A-000123)"
    for part in (
        "Mức độ: nhẹ",
        "Giá trị đo: 151,2 mg/L",
        "giới hạn: 135 mg/L theo QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0;",
        "gấp 1,12 lần",
        "trung bình 1 giờ",
        "Bắt đầu: 05/10/2026 10:00",
        "Việc cần làm:",
        "quantrac alerts ack A-000123",
    ):
        assert part in body, part


def test_english_message_names_the_limit_source() -> None:
    _, body = Messages().render(alert(), "fired", "en", KIM_BAI_KQ, T0)
    assert ("Measured: 151.2 mg/L; limit: 135 mg/L (QCVN 40:2011/BTNMT column B × Kq 0.9 × "
            "Kf 1.0); 1.12 × the limit (1-hour mean).") in body
    assert "Started: 2026-10-05 10:00" in body


@pytest.mark.parametrize(
    ("plant", "changes", "expected"),
    [
        # the permit's own limit: the source is the permit
        ({"limits": {"cod": 135}}, {}, "giới hạn: 135 mg/L theo giấy phép;"),
        # no Kq in the permit: the plant's COD limit is 150, not the alert's 135 -> no source
        ({}, {}, "giới hạn: 135 mg/L;"),
        # a kind judged on a fraction of readings: no unit, no source
        ({"kq": 0.9}, {"kind": "insufficient_data", "value": 0.5, "limit": 0.75},
         "Giá trị đo: 0,5; giới hạn: 0,75;"),
    ],
)
def test_limit_source_only_for_the_limit_judged(
    plant: dict[str, object], changes: dict[str, object], expected: str
) -> None:
    subject = Plant.model_validate({**KIM_BAI.model_dump(), **plant})
    _, body = Messages().render(alert(**changes), "fired", "vi", subject, T0)
    assert expected in body, body


def test_alert_words_come_from_the_vocabulary() -> None:
    for lang in ("vi", "en"):
        words = Vocabulary.for_lang(lang)
        for state in STATES:
            assert words.alert_state(state) != state
        for event in NOTIFYING:
            assert words.alert_event(event) != event


@pytest.mark.parametrize(
    ("kind", "parameter", "station", "vi", "en"),
    [
        ("no_data", "ph", "outlet", "Không có dữ liệu pH tại đầu ra", "No data: pH at outlet"),
        (
            "bypass",
            "flow_bypass",
            "bypass",
            "Xả nước thải không qua xử lý lưu lượng xả tắt",
            "Untreated bypass discharge: bypass flow",
        ),
        ("below_minimum", "ph", "outlet", "Dưới ngưỡng tối thiểu pH", "Below minimum: pH"),
        (
            "sensor_fault",
            "nh4_n",
            "outlet",
            "Lỗi thiết bị đo amoni (tính theo N)",
            "Sensor fault: ammonium (as N)",
        ),
    ],
)
def test_kinds_in_both_languages(kind: str, parameter: str, station: str, vi: str, en: str) -> None:
    messages = Messages()
    subject_vi, _ = messages.render(
        alert(kind=kind, parameter=parameter, station=station), "fired", "vi", KIM_BAI, T0
    )
    subject_en, body_en = messages.render(
        alert(kind=kind, parameter=parameter, station=station), "fired", "en", KIM_BAI, T0
    )
    assert vi in subject_vi and en in subject_en
    assert "What to do:" in body_en


def test_resolved_and_acknowledged_texts() -> None:
    messages = Messages()
    done = alert(state="resolved", resolved_at=T0.replace(hour=5))
    _, body = messages.render(done, "resolved", "vi", KIM_BAI, T0)
    assert "kết thúc: 05/10/2026 12:00" in body
    acked = alert(acked_by="Lan", ack_note="đã kiểm tra", acked_at=T0)
    _, body = messages.render(acked, "acknowledged", "en", KIM_BAI, T0)
    assert "Acknowledged by Lan: đã kiểm tra." in body and "What to do" not in body


def test_values_missing_are_left_out() -> None:
    _, body = Messages().render(
        alert(kind="no_data", value=None, limit=None, ratio=None), "fired", "vi", KIM_BAI, T0
    )
    assert "Giá trị đo" not in body


def test_template_override_and_bad_override() -> None:
    messages = Messages({"en": TemplateOverride(subject="{{ plant_name }} / {{ id }}")})
    subject, _ = messages.render(alert(), "fired", "en", KIM_BAI, T0)
    assert subject == "Kim Bai WWTP / A-000123"
    with pytest.raises(AlertsError, match=r"alerts\.templates\.vi"):
        Messages({"vi": TemplateOverride(body="{% if %}")})
    broken = Messages({"vi": TemplateOverride(subject="{{ nonsense }}")})
    with pytest.raises(AlertsError, match="nonsense"):
        broken.render(alert(), "fired", "vi", KIM_BAI, T0)
