"""A report's own sentences in Vietnamese and English (headings, column titles, verdicts, notes).

Every other word a report prints (parameter, station, kind, basis, severity, alert state,
reason, regulation designation) and every number and date format come from
`rules.vocabulary`, shared with alerts and the console; this module holds only what a report
alone says. `labels_for(lang)` returns a read-only `Labels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from reports.errors import ReportsError
from rules.vocabulary import LANGS, Lang, Vocabulary


@dataclass(frozen=True, slots=True)
class Labels:
    """The report sentences of one language; `labels["title"]`."""

    lang: Lang
    text: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.text[key]


class Told:
    """What a report model says through, from its `lang` and its period `start`..`end`
    (aware, in the report's zone): its own sentences (`labels`), the shared vocabulary
    (`words`) and the period as a person reads it. Mixed into the plant, cluster and province
    report models."""

    __slots__ = ()
    lang: str
    start: datetime
    end: datetime

    @property
    def labels(self) -> Labels:
        """The report's own sentences (headings, column titles) in its language."""
        return labels_for(self.lang)

    @property
    def words(self) -> Vocabulary:
        """The shared vocabulary in the report's language: names, numbers, dates."""
        return Vocabulary.for_lang(self.lang)

    @property
    def period_text(self) -> str:
        """The period as a person reads it ("tháng 10/2026", "01/10/2026 – 07/10/2026")."""
        return self.words.format_period(self.start, self.end, self.start.tzinfo or UTC)


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
    # -- the cluster report and the province roll-up --------------------------------------
    "cluster_title": "Báo cáo thu gom và xử lý nước thải",
    "cluster_subtitle": "Mục tiêu 100 % nước thải được thu gom và xử lý đạt chuẩn",
    "province_title": "Báo cáo tổng hợp thu gom, xử lý nước thải các cụm công nghiệp",
    "province_subtitle": (
        "Mục tiêu 100 % nước thải cụm công nghiệp được thu gom và xử lý đạt chuẩn"
    ),
    "all_provinces": "các tỉnh/thành phố",
    "section_cluster": "Thông tin cụm công nghiệp",
    "section_central": "Trạm XLNT tập trung",
    "section_members": "Cơ sở thành viên",
    "section_ledger": "Sổ thu gom và xử lý nước thải theo ngày",
    "section_collection_findings": "Các ngày thiếu hụt thu gom",
    "section_plant_findings": "Vi phạm tại trạm XLNT và cơ sở thành viên",
    "section_notes": "Ghi chú",
    "section_totals": "Tổng hợp toàn tỉnh",
    "section_clusters": "Từng cụm công nghiệp",
    "cluster_id": "Mã cụm",
    "member": "Cơ sở",
    "member_id": "Mã cơ sở",
    "connection": "Đấu nối",
    "monitoring": "Hình thức",
    "judged_by": "Đánh giá theo",
    "compliance": "Tuân thủ trong kỳ",
    "month_compliance": "Tuân thủ trong tháng",
    "online_monitoring": "Quan trắc tự động truyền dữ liệu",
    "total": "Cả kỳ",
    "month_so_far": "Lũy kế tháng",
    "verdict_short_compliant": "Đạt",
    "verdict_short_compliant_incomplete": "Đạt (dữ liệu chưa đầy đủ)",
    "verdict_short_noncompliant": "Không đạt",
    "verdict_short_no_data": "Không đủ cơ sở đánh giá",
    "verdict_short_unmonitored": "Không có quan trắc tự động",
    "noncompliant_count": "Không đạt ({count} đợt)",
    "by_declaration": "Không đánh giá (theo khai báo)",
    "cluster_ratios": "thu gom {collection}, xử lý đạt chuẩn {treatment}",
    "cluster_verdict_met": (
        "ĐẠT MỤC TIÊU 100 %: toàn bộ nước thải phát sinh được thu gom và xử lý đạt chuẩn "
        "({ratios})."
    ),
    "cluster_verdict_not_met": "KHÔNG ĐẠT MỤC TIÊU 100 %: {issues}.",
    "cluster_verdict_not_judged": "CHƯA KẾT LUẬN MỤC TIÊU 100 % ({reason}): {ratios}.",
    "cluster_running": "kỳ báo cáo chưa kết thúc",
    "cluster_unmeasured": "thiếu số liệu lưu lượng",
    "cluster_not_a_month": "kỳ báo cáo không trọn một tháng",
    "cluster_issue_unconnected": "{count} cơ sở chưa đấu nối ({members})",
    "cluster_issue_short_days": "{count} ngày thiếu hụt thu gom",
    "cluster_issue_central": (
        "trạm XLNT tập trung có {count} đợt vi phạm (vượt ngưỡng, xả không qua xử lý hoặc "
        "xử lý chưa đạt 100 %)"
    ),
    "cluster_note_method": (
        "Nước thải phát sinh = lưu lượng xả đo được của các cơ sở có quan trắc tự động + "
        "lưu lượng khai báo của các cơ sở khác; thu gom = lưu lượng vào trạm XLNT tập trung; "
        "xử lý đạt chuẩn = lưu lượng ra trong các giờ mọi thông số đạt giới hạn. Các tỷ lệ "
        "tính trên những giờ mọi đồng hồ lưu lượng đều có số liệu. Thiếu hụt thu gom: lượng "
        "thu gom thấp hơn lượng phát sinh quá {tolerance} (sai số đồng hồ, tổn thất mạng lưới; "
        "ngưỡng cấu hình, không phải giá trị quy chuẩn) hoặc có cơ sở chưa đấu nối."
    ),
    "cluster_note_declared": (
        "Cơ sở không có quan trắc tự động được tính theo lưu lượng khai báo; việc tuân thủ "
        "quy định đấu nối của các cơ sở này không đánh giá được từ dữ liệu."
    ),
    "cluster_note_own_treatment": (
        "Cơ sở tự xử lý và xả thải riêng theo giấy phép của mình, không thuộc mạng lưới thu "
        "gom của cụm: không tính vào lượng nước thải phát sinh của cụm."
    ),
    "cluster_note_data": (
        "{plant}: {count} đợt thiếu dữ liệu hoặc lỗi thiết bị đo trong kỳ (chi tiết trong "
        "báo cáo tuân thủ của cơ sở)."
    ),
    "cluster_note_running": (
        "Kỳ báo cáo chưa kết thúc: số liệu tính đến thời điểm lập báo cáo; mục tiêu được "
        "kết luận khi hết tháng."
    ),
    "hash_note_cluster": (
        "Mã băm được tính trên tệp dữ liệu CSV chuẩn hóa kèm theo báo cáo (số liệu quan trắc "
        "của mọi trạm trong cụm, <cụm>_<kỳ>_data.csv); kiểm tra bằng lệnh: sha256sum <tệp>."
    ),
    "hash_note_province": (
        "Mã băm được tính trên tệp CSV chuẩn hóa của sổ thu gom, xử lý theo ngày và tháng của "
        "các cụm kèm theo báo cáo (province_<kỳ>_data.csv); kiểm tra bằng lệnh: "
        "sha256sum <tệp>."
    ),
    "data_rows_ledger": "Số dòng sổ thu gom, xử lý",
    "province_total_central": "{count} trên {total} cụm công nghiệp có trạm XLNT tập trung",
    "province_total_reporting": (
        "{count} trên {monitored} cụm có quan trắc tự động đang truyền dữ liệu đầy đủ"
    ),
    "province_total_met": (
        "{met} trên {total} cụm đạt mục tiêu 100 % ({judged} cụm đã đủ cơ sở kết luận)"
    ),
    "province_total_noncompliant": "{count} cụm có vi phạm trong tháng",
    "province_total_volumes": (
        "Nước thải phát sinh {generated} m³, thu gom {collected} m³, xử lý đạt chuẩn "
        "{treated} m³: thu gom {collection}, xử lý đạt chuẩn {treatment}"
    ),
    "province_note_reporting": (
        "Quan trắc tự động truyền dữ liệu: mọi trạm của cụm (trạm XLNT tập trung và cơ sở có "
        "quan trắc) gửi ít nhất {fraction} số bản ghi dự kiến trong {hours} giờ, từ {start} "
        "đến {end} (ngưỡng cấu hình, không phải giá trị quy chuẩn)."
    ),
    "province_note_compliance": (
        "Tuân thủ trong tháng: kết quả quan trắc tự động của trạm XLNT tập trung (theo quy "
        "chuẩn, giấy phép) và của các cơ sở có quan trắc (theo quy định đấu nối của cụm); "
        "số đợt vi phạm gồm vượt ngưỡng, xả không qua xử lý và xử lý chưa đạt 100 %."
    ),
    "province_note_ratios": (
        "Tỷ lệ của toàn tỉnh tính trên tổng lượng nước thải các cụm trong những giờ có đủ số "
        "liệu; sai số cho phép khi so lượng thu gom với lượng phát sinh: {tolerance}."
    ),
    "province_note_month_so_far": (
        "Cụm có số liệu «lũy kế tháng»: tháng chưa kết thúc hoặc chưa được đánh giá trọn "
        "tháng; mục tiêu chưa được kết luận."
    ),
    "province_note_no_ledger": (
        "Chưa có sổ thu gom (chưa khai báo cụm và cơ sở thành viên): {clusters}."
    ),
    "province_note_computed": (
        "Tính lại từ số liệu quan trắc lưu trữ (sổ kiểm tra của bộ thu thập chưa có đủ kết "
        "quả của tháng): {clusters}."
    ),
    "chart_ledger": "Nước thải phát sinh, thu gom và xử lý đạt chuẩn theo ngày",
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
    # -- the cluster report and the province roll-up --------------------------------------
    "cluster_title": "Wastewater collection and treatment report",
    "cluster_subtitle": "The 100 % target: all wastewater collected and treated to standard",
    "province_title": "Province roll-up of industrial-cluster wastewater collection and treatment",
    "province_subtitle": (
        "The 100 % target: all industrial-cluster wastewater collected and treated to standard"
    ),
    "all_provinces": "all provinces",
    "section_cluster": "The cluster",
    "section_central": "Central WWTP",
    "section_members": "Member factories",
    "section_ledger": "Daily collection and treatment ledger",
    "section_collection_findings": "Days of collection shortfall",
    "section_plant_findings": "Violations at the central WWTP and the member factories",
    "section_notes": "Notes",
    "section_totals": "Province totals",
    "section_clusters": "Clusters",
    "cluster_id": "Cluster id",
    "member": "Factory",
    "member_id": "Factory id",
    "connection": "Connection",
    "monitoring": "Known by",
    "judged_by": "Judged against",
    "compliance": "Compliance in the period",
    "month_compliance": "Month compliance",
    "online_monitoring": "Online monitoring reporting",
    "total": "Period",
    "month_so_far": "Month so far",
    "verdict_short_compliant": "Compliant",
    "verdict_short_compliant_incomplete": "Compliant (incomplete data)",
    "verdict_short_noncompliant": "Not compliant",
    "verdict_short_no_data": "Not assessable",
    "verdict_short_unmonitored": "No online monitoring",
    "noncompliant_count": "Not compliant ({count} episodes)",
    "by_declaration": "Not judged (declared)",
    "cluster_ratios": "collection {collection}, treatment to standard {treatment}",
    "cluster_verdict_met": (
        "100 % TARGET MET: all wastewater generated was collected and treated to standard "
        "({ratios})."
    ),
    "cluster_verdict_not_met": "100 % TARGET NOT MET: {issues}.",
    "cluster_verdict_not_judged": "100 % TARGET NOT JUDGED ({reason}): {ratios}.",
    "cluster_running": "the period is not over",
    "cluster_unmeasured": "flow data missing",
    "cluster_not_a_month": "the period is not a calendar month",
    "cluster_issue_unconnected": "{count} member(s) not connected ({members})",
    "cluster_issue_short_days": "{count} day(s) of collection shortfall",
    "cluster_issue_central": (
        "{count} violation episode(s) at the central WWTP (limits exceeded, untreated "
        "discharge or treatment below 100 %)"
    ),
    "cluster_note_method": (
        "Generated = metered discharge of the factories with online monitoring + declared "
        "flow of the others; collected = the central WWTP's inflow; treated to standard = its "
        "outflow in hours every parameter met its limit. Ratios are taken over the hours every "
        "flowmeter measured. Collection shortfall: collected below generated by more than "
        "{tolerance} (flowmeter error, network losses; a configured allowance, not a "
        "regulation value) or a member not connected."
    ),
    "cluster_note_declared": (
        "Members without online monitoring count with their declared flow; whether they keep "
        "the connection rules cannot be judged from data."
    ),
    "cluster_note_own_treatment": (
        "Members with their own treatment and discharge hold their own permit and are outside "
        "the cluster's network: they do not count in the cluster's generated wastewater."
    ),
    "cluster_note_data": (
        "{plant}: {count} missing-data or sensor-fault episode(s) in the period (see the "
        "plant's compliance report)."
    ),
    "cluster_note_running": (
        "The period is not over: figures up to the time of this report; the target is "
        "judged once the month ends."
    ),
    "hash_note_cluster": (
        "The hash is computed over the canonical CSV data file delivered with this report "
        "(the readings of every station of the cluster, <cluster>_<period>_data.csv); verify "
        "with: sha256sum <file>."
    ),
    "hash_note_province": (
        "The hash is computed over the canonical CSV of the clusters' daily and monthly "
        "ledger rows delivered with this report (province_<period>_data.csv); verify with: "
        "sha256sum <file>."
    ),
    "data_rows_ledger": "Ledger rows",
    "province_total_central": "{count} of {total} industrial clusters have a central WWTP",
    "province_total_reporting": (
        "{count} of {monitored} clusters with online monitoring report in full"
    ),
    "province_total_met": (
        "{met} of {total} clusters met the 100 % target ({judged} could be judged)"
    ),
    "province_total_noncompliant": "{count} cluster(s) with violations in the month",
    "province_total_volumes": (
        "Generated {generated} m³, collected {collected} m³, treated to standard {treated} m³: "
        "collection {collection}, treatment to standard {treatment}"
    ),
    "province_note_reporting": (
        "Online monitoring reporting: every station of the cluster (the central WWTP and the "
        "metered factories) sent at least {fraction} of its expected records in the {hours} h "
        "from {start} to {end} (a configured threshold, not a regulation value)."
    ),
    "province_note_compliance": (
        "Month compliance: the online monitoring results of the central WWTP (against its "
        "regulation and permit) and of the metered factories (against the cluster's "
        "connection rules); episodes count limit exceedances, untreated discharge and "
        "treatment below 100 %."
    ),
    "province_note_ratios": (
        "The province's ratios add up the clusters' wastewater over the hours with data; "
        "allowance when comparing collected with generated: {tolerance}."
    ),
    "province_note_month_so_far": (
        "Clusters shown with the “month so far”: the month is not over or not yet judged "
        "whole; their target is not judged."
    ),
    "province_note_no_ledger": (
        "No collection ledger (no cluster entry or member factory configured): {clusters}."
    ),
    "province_note_computed": (
        "Computed again from the stored readings (the collector's check book lacks part of "
        "the month): {clusters}."
    ),
    "chart_ledger": "Generated, collected and treated-to-standard wastewater per day",
}


def labels_for(lang: str) -> Labels:
    """The report sentences of `lang` (`vi` or `en`); raises ReportsError for any other."""
    if lang == "vi":
        return Labels("vi", MappingProxyType(dict(_VI_TEXT)))
    if lang == "en":
        return Labels("en", MappingProxyType(dict(_EN_TEXT)))
    raise ReportsError(f"unsupported report language {lang!r} (use one of {', '.join(LANGS)})")
