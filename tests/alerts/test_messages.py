"""Operator messages: Vietnamese with correct diacritics, English, overrides."""

from __future__ import annotations

import pytest

from alerts.alert import Alert
from alerts.errors import AlertsError
from alerts.messages import Messages
from alerts.settings import TemplateOverride
from tests.alerts.conftest import KIM_BAI, T0


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
    subject, body = Messages().render(alert(), "fired", "vi", KIM_BAI, T0)
    assert subject == "[CẢNH BÁO] Vượt ngưỡng COD tại cửa xả – Kim Bai WWTP (A-000123)"
    for part in (
        "Mức độ: nhẹ",
        "Giá trị đo: 151,2",
        "giới hạn: 135",
        "gấp 1,12 lần",
        "trung bình 1 giờ",
        "Bắt đầu: 10:00 05/10/2026",
        "Việc cần làm:",
        "quantrac alerts ack A-000123",
    ):
        assert part in body, part


@pytest.mark.parametrize(
    ("kind", "parameter", "station", "vi", "en"),
    [
        ("no_data", "ph", "outlet", "Mất dữ liệu pH tại cửa xả", "No data: pH at outlet"),
        (
            "bypass",
            "flow_bypass",
            "bypass",
            "Xả thải không qua xử lý lưu lượng xả tắt",
            "Untreated bypass discharge: bypass flow",
        ),
        ("below_minimum", "ph", "outlet", "Dưới ngưỡng tối thiểu pH", "Below minimum: pH"),
        (
            "sensor_fault",
            "nh4_n",
            "outlet",
            "Lỗi thiết bị đo amoni (NH₄⁺-N)",
            "Sensor fault: ammonium (NH₄⁺-N)",
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
    assert "kết thúc: 12:00 05/10/2026" in body
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
