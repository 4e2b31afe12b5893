"""A report's own sentences in Vietnamese and English (headings, column titles, verdicts, notes).

Every other word a report prints (parameter, station, kind, basis, severity, alert state,
reason, regulation designation) and every number and date format come from
`rules.vocabulary`, shared with alerts and the console; this module holds only what a report
alone says. `labels_for(lang)` returns a read-only `Labels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reports.errors import ReportsError
from rules.vocabulary import LANGS, Lang


@dataclass(frozen=True, slots=True)
class Labels:
    """The report sentences of one language; `labels["title"]`."""

    lang: Lang
    text: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.text[key]


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
    "reason": "Lý do",
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
    "reason": "Reason",
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


def labels_for(lang: str) -> Labels:
    """The report sentences of `lang` (`vi` or `en`); raises ReportsError for any other."""
    if lang == "vi":
        return Labels("vi", MappingProxyType(dict(_VI_TEXT)))
    if lang == "en":
        return Labels("en", MappingProxyType(dict(_EN_TEXT)))
    raise ReportsError(f"unsupported report language {lang!r} (use one of {', '.join(LANGS)})")
