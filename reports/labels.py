"""Report labels in Vietnamese and English, kept as data so wording is reviewed in one place.

`labels_for(lang)` returns a read-only `Labels`; `format_number` writes numbers the way the
reader's language expects (Vietnamese: decimal comma, dot thousands separator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reports.errors import ReportsError

LANGS = ("vi", "en")


@dataclass(frozen=True, slots=True)
class Labels:
    """All words of one language: UI text, parameter, station, kind, basis and severity names."""

    lang: str
    text: Mapping[str, str]
    parameters: Mapping[str, str]
    stations: Mapping[str, str]
    kinds: Mapping[str, str]
    bases: Mapping[str, str]
    severities: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.text[key]

    def parameter(self, key: str) -> str:
        """Display name of a parameter key; unknown keys are shown as they are."""
        return self.parameters.get(key, key)

    def station(self, key: str) -> str:
        return self.stations.get(key, key)

    def kind(self, key: str) -> str:
        return self.kinds.get(key, key)

    def basis(self, key: str) -> str:
        return self.bases.get(key, key)

    def severity(self, key: str) -> str:
        return self.severities.get(key, key)


_VI_TEXT = {
    "title": "Báo cáo tuân thủ",
    "subtitle": "Quan trắc nước thải tự động, liên tục",
    "plant": "Cơ sở",
    "plant_id": "Mã cơ sở",
    "cluster": "Cụm công nghiệp",
    "period": "Kỳ báo cáo",
    "from": "Từ",
    "to": "Đến",
    "timezone": "Múi giờ",
    "design_flow": "Công suất thiết kế (m³/ngày)",
    "regulation": "Quy chuẩn áp dụng",
    "column": "Cột",
    "kq": "Hệ số Kq",
    "kf": "Hệ số Kf",
    "verdict": "Kết luận",
    "section_permit": "Giấy phép và giới hạn áp dụng",
    "section_treatment": "Mục tiêu xử lý 100 % nước thải",
    "section_parameters": "Thông số quan trắc",
    "section_episodes": "Các đợt vượt ngưỡng và sự cố",
    "section_daily": "Bảng theo ngày",
    "section_alerts": "Cảnh báo và xác nhận",
    "section_quality": "Ghi chú chất lượng dữ liệu",
    "section_charts": "Biểu đồ",
    "section_provenance": "Nguồn gốc báo cáo",
    "parameter": "Thông số",
    "station": "Trạm",
    "unit": "Đơn vị",
    "limit": "Giới hạn",
    "limit_min": "Giới hạn dưới",
    "limit_max": "Giới hạn trên",
    "source": "Nguồn giới hạn",
    "valid_count": "Số giá trị hợp lệ",
    "min": "Nhỏ nhất",
    "mean": "Trung bình",
    "max": "Lớn nhất",
    "over_limit": "Số giá trị vượt ngưỡng",
    "episodes": "Số đợt vượt ngưỡng",
    "episode_minutes": "Thời gian vượt ngưỡng (phút)",
    "worst_ratio": "Tỷ lệ vượt lớn nhất",
    "completeness": "Độ đầy đủ dữ liệu",
    "calibrating_minutes": "Hiệu chuẩn (phút)",
    "error_minutes": "Lỗi thiết bị (phút)",
    "date": "Ngày",
    "inflow": "Lưu lượng vào (m³)",
    "outflow": "Lưu lượng ra (m³)",
    "bypass": "Nước thải không qua xử lý (m³)",
    "treated_ratio": "Tỷ lệ được xử lý",
    "compliant_ratio": "Tỷ lệ xử lý đạt chuẩn",
    "month_total": "Tổng cả kỳ",
    "day_status": "Đánh giá",
    "status_ok": "Đạt",
    "status_violation": "Vi phạm",
    "status_incomplete": "Thiếu dữ liệu",
    "status_no_data": "Không có dữ liệu",
    "kind": "Loại",
    "basis": "Cơ sở đánh giá",
    "start": "Bắt đầu",
    "end": "Kết thúc",
    "duration_minutes": "Thời lượng (phút)",
    "value": "Giá trị",
    "ratio": "Tỷ lệ so với giới hạn",
    "severity": "Mức độ",
    "alert_id": "Mã cảnh báo",
    "state": "Trạng thái",
    "acked_by": "Người xác nhận",
    "acked_at": "Thời điểm xác nhận",
    "note": "Ghi chú",
    "none": "Không có",
    "generated_at": "Thời điểm lập báo cáo",
    "software_version": "Phiên bản phần mềm",
    "data_sha256": "Mã băm SHA-256 của dữ liệu",
    "data_rows": "Số bản ghi dữ liệu",
    "hash_note": (
        "Mã băm được tính trên tệp dữ liệu CSV chuẩn hóa kèm theo báo cáo "
        "(<cơ sở>_<kỳ>_data.csv); kiểm tra bằng lệnh: sha256sum <tệp>."
    ),
    "chart_values": "Giá trị đo (hợp lệ)",
    "chart_limit": "Giới hạn",
    "chart_calendar": "Lịch tuân thủ theo ngày",
    "chart_flow": "Cân bằng lưu lượng theo ngày",
    "verdict_compliant": (
        "ĐẠT: không có vượt ngưỡng, 100 % nước thải được xử lý đạt chuẩn trong kỳ."
    ),
    "verdict_compliant_incomplete": (
        "ĐẠT (dữ liệu chưa đầy đủ): không phát hiện vượt ngưỡng, nhưng {issues}."
    ),
    "verdict_noncompliant": "KHÔNG ĐẠT: {issues}.",
    "verdict_no_data": "KHÔNG ĐỦ CƠ SỞ ĐÁNH GIÁ: không có dữ liệu hợp lệ trong kỳ.",
    "issue_exceedance": "{count} đợt vượt ngưỡng ({parameters})",
    "issue_below_minimum": "{count} đợt dưới ngưỡng tối thiểu ({parameters})",
    "issue_bypass": "{count} đợt xả nước thải không qua xử lý",
    "issue_treatment_shortfall": "tỷ lệ xử lý đạt chuẩn của kỳ là {ratio}",
    "issue_shortfall_days": "{count} ngày không đạt mục tiêu xử lý 100 %",
    "issue_data": "{count} đợt thiếu dữ liệu hoặc lỗi cảm biến",
    "note_completeness": (
        "{parameter} ({station}): độ đầy đủ dữ liệu {fraction} (dưới {threshold})."
    ),
    "note_excluded": (
        "{parameter} ({station}): loại khỏi đánh giá {calibrating} phút hiệu chuẩn "
        "và {error} phút lỗi thiết bị."
    ),
    "note_findings": "{count} đợt «{kind}» ({parameters}).",
    "note_no_values": "{parameter} ({station}): không có giá trị hợp lệ nào trong kỳ.",
    "note_none": "Không có vấn đề về chất lượng dữ liệu.",
}

_EN_TEXT = {
    "title": "Compliance report",
    "subtitle": "Automatic continuous wastewater monitoring",
    "plant": "Plant",
    "plant_id": "Plant id",
    "cluster": "Industrial cluster",
    "period": "Reporting period",
    "from": "From",
    "to": "To",
    "timezone": "Time zone",
    "design_flow": "Design flow (m³/day)",
    "regulation": "Regulation",
    "column": "Column",
    "kq": "Kq coefficient",
    "kf": "Kf coefficient",
    "verdict": "Verdict",
    "section_permit": "Permit and effective limits",
    "section_treatment": "100 % wastewater treatment target",
    "section_parameters": "Monitored parameters",
    "section_episodes": "Exceedance and incident episodes",
    "section_daily": "Daily table",
    "section_alerts": "Alerts and acknowledgements",
    "section_quality": "Data-quality notes",
    "section_charts": "Charts",
    "section_provenance": "Provenance",
    "parameter": "Parameter",
    "station": "Station",
    "unit": "Unit",
    "limit": "Limit",
    "limit_min": "Lower limit",
    "limit_max": "Upper limit",
    "source": "Limit source",
    "valid_count": "Valid values",
    "min": "Min",
    "mean": "Mean",
    "max": "Max",
    "over_limit": "Values over the limit",
    "episodes": "Exceedance episodes",
    "episode_minutes": "Time over the limit (min)",
    "worst_ratio": "Worst ratio to limit",
    "completeness": "Data completeness",
    "calibrating_minutes": "Calibrating (min)",
    "error_minutes": "Device error (min)",
    "date": "Date",
    "inflow": "Inflow (m³)",
    "outflow": "Outflow (m³)",
    "bypass": "Untreated bypass (m³)",
    "treated_ratio": "Treated ratio",
    "compliant_ratio": "Compliant-treatment ratio",
    "month_total": "Period total",
    "day_status": "Assessment",
    "status_ok": "Compliant",
    "status_violation": "Violation",
    "status_incomplete": "Incomplete data",
    "status_no_data": "No data",
    "kind": "Kind",
    "basis": "Basis",
    "start": "Start",
    "end": "End",
    "duration_minutes": "Duration (min)",
    "value": "Value",
    "ratio": "Ratio to limit",
    "severity": "Severity",
    "alert_id": "Alert id",
    "state": "State",
    "acked_by": "Acknowledged by",
    "acked_at": "Acknowledged at",
    "note": "Note",
    "none": "None",
    "generated_at": "Generated at",
    "software_version": "Software version",
    "data_sha256": "SHA-256 of the data",
    "data_rows": "Data records",
    "hash_note": (
        "The hash is computed over the canonical CSV data file delivered with this report "
        "(<plant>_<period>_data.csv); verify with: sha256sum <file>."
    ),
    "chart_values": "Measured (valid) values",
    "chart_limit": "Limit",
    "chart_calendar": "Daily compliance calendar",
    "chart_flow": "Daily flow balance",
    "verdict_compliant": (
        "COMPLIANT: no exceedance, 100 % of the wastewater treated to standard in the period."
    ),
    "verdict_compliant_incomplete": (
        "COMPLIANT (incomplete data): no exceedance found, but {issues}."
    ),
    "verdict_noncompliant": "NOT COMPLIANT: {issues}.",
    "verdict_no_data": "NOT ASSESSABLE: no valid data in the period.",
    "issue_exceedance": "{count} exceedance episode(s) ({parameters})",
    "issue_below_minimum": "{count} below-minimum episode(s) ({parameters})",
    "issue_bypass": "{count} untreated bypass episode(s)",
    "issue_treatment_shortfall": "compliant-treatment ratio of the period {ratio}",
    "issue_shortfall_days": "{count} day(s) below the 100 % treatment target",
    "issue_data": "{count} missing-data or sensor-fault episode(s)",
    "note_completeness": (
        "{parameter} ({station}): data completeness {fraction} (below {threshold})."
    ),
    "note_excluded": (
        "{parameter} ({station}): excluded {calibrating} min calibrating and {error} min "
        "device error."
    ),
    "note_findings": "{count} “{kind}” episode(s) ({parameters}).",
    "note_no_values": "{parameter} ({station}): no valid value in the period.",
    "note_none": "No data-quality issue.",
}

_VI_PARAMETERS = {
    "temperature": "Nhiệt độ",
    "color": "Độ màu",
    "ph": "pH",
    "bod5": "BOD5 (20 °C)",
    "cod": "COD",
    "tss": "Tổng chất rắn lơ lửng (TSS)",
    "nh4_n": "Amoni (tính theo N)",
    "total_n": "Tổng nitơ",
    "total_p": "Tổng phốt pho (tính theo P)",
    "coliform": "Coliform",
    "flow_in": "Lưu lượng vào",
    "flow_out": "Lưu lượng ra",
    "flow_bypass": "Lưu lượng xả tắt",
    "compliant_ratio": "Tỷ lệ xử lý đạt chuẩn",
    "treated_ratio": "Tỷ lệ được xử lý",
}

_EN_PARAMETERS = {
    "temperature": "Temperature",
    "color": "Colour",
    "ph": "pH",
    "bod5": "BOD5 (20 °C)",
    "cod": "COD",
    "tss": "Total suspended solids (TSS)",
    "nh4_n": "Ammonium (as N)",
    "total_n": "Total nitrogen",
    "total_p": "Total phosphorus (as P)",
    "coliform": "Coliform",
    "flow_in": "Inflow",
    "flow_out": "Outflow",
    "flow_bypass": "Bypass flow",
    "compliant_ratio": "Compliant-treatment ratio",
    "treated_ratio": "Treated ratio",
}

_VI_STATIONS = {"inlet": "Đầu vào", "outlet": "Đầu ra", "bypass": "Đường xả tắt"}
_EN_STATIONS = {"inlet": "Inlet", "outlet": "Outlet", "bypass": "Bypass"}

_VI_KINDS = {
    "exceedance": "Vượt ngưỡng",
    "below_minimum": "Dưới ngưỡng tối thiểu",
    "no_data": "Không có dữ liệu",
    "insufficient_data": "Dữ liệu không đủ",
    "sensor_fault": "Lỗi cảm biến",
    "bypass": "Xả không qua xử lý",
    "treatment_shortfall": "Xử lý chưa đạt 100 %",
}
_EN_KINDS = {
    "exceedance": "Exceedance",
    "below_minimum": "Below minimum",
    "no_data": "No data",
    "insufficient_data": "Insufficient data",
    "sensor_fault": "Sensor fault",
    "bypass": "Untreated bypass",
    "treatment_shortfall": "Treatment below 100 %",
}

_VI_BASES = {
    "instantaneous": "Tức thời",
    "hourly_mean": "Trung bình 1 giờ",
    "daily_mean": "Trung bình ngày",
    "monthly_mean": "Trung bình tháng",
    "day": "Ngày",
    "month": "Tháng",
}
_EN_BASES = {
    "instantaneous": "Instantaneous",
    "hourly_mean": "Hourly mean",
    "daily_mean": "Daily mean",
    "monthly_mean": "Monthly mean",
    "day": "Day",
    "month": "Month",
}

_VI_SEVERITIES = {
    "info": "Thông tin",
    "warning": "Cảnh cáo",
    "minor": "Nhẹ",
    "major": "Nặng",
    "critical": "Nghiêm trọng",
}
_EN_SEVERITIES = {
    "info": "Info",
    "warning": "Warning",
    "minor": "Minor",
    "major": "Major",
    "critical": "Critical",
}


def _frozen(table: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(table))


def labels_for(lang: str) -> Labels:
    """The label set of `lang` (`vi` or `en`); raises ReportsError for any other language."""
    if lang == "vi":
        return Labels(
            "vi",
            _frozen(_VI_TEXT),
            _frozen(_VI_PARAMETERS),
            _frozen(_VI_STATIONS),
            _frozen(_VI_KINDS),
            _frozen(_VI_BASES),
            _frozen(_VI_SEVERITIES),
        )
    if lang == "en":
        return Labels(
            "en",
            _frozen(_EN_TEXT),
            _frozen(_EN_PARAMETERS),
            _frozen(_EN_STATIONS),
            _frozen(_EN_KINDS),
            _frozen(_EN_BASES),
            _frozen(_EN_SEVERITIES),
        )
    raise ReportsError(f"unsupported report language {lang!r} (use one of {', '.join(LANGS)})")


def format_number(value: float | int | None, lang: str, digits: int = 2) -> str:
    """`value` with `digits` decimals in the reader's convention; empty for a missing value."""
    if value is None or value != value:  # NaN check without importing math
        return ""
    text = f"{value:,.{digits}f}"
    if lang == "vi":
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_percent(fraction: float | None, lang: str, digits: int = 1) -> str:
    """A 0..1 fraction as a percentage (`97,5 %` in Vietnamese, `97.5 %` in English)."""
    if fraction is None or fraction != fraction:
        return ""
    return f"{format_number(fraction * 100.0, lang, digits)} %"


def format_limit(low: float | None, high: float | None, unit: str, lang: str) -> str:
    """A limit as printed: `≤ 135 mg/L`, `5,5–9` (range), `≥ 6`; empty when there is none."""
    def number(value: float) -> str:
        text = f"{value:g}"
        return text.replace(".", ",") if lang == "vi" else text

    if low is None and high is None:
        return ""
    if low is not None and high is not None:
        text = f"{number(low)}–{number(high)}"
    elif high is not None:
        text = f"≤ {number(high)}"
    else:
        text = f"≥ {number(low)}"  # type: ignore[arg-type]
    return f"{text} {unit}".strip()
