"""HTML, PDF and CSV renderings: escaping, self-containment, fonts, numbers equal to the rules."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.errors import ReportsError
from reports.filenames import check_name, safe_part, safe_path
from reports.html import render_html
from reports.model import AlertRow
from reports.output import write_report
from reports.pdf import render_pdf
from reports.tables import render_table
from tests.reports.sample_plant import make_plant, make_report, make_result

HOSTILE = "<script>alert(1)</script>"
HOSTILE_NOTE = '<img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def hostile_report():
    alerts = [AlertRow(id="<b>A-1</b>", parameter="cod", kind="exceedance", severity="minor",
                       state="firing", start=datetime(2026, 10, 2, 3, tzinfo=UTC), end=None,
                       acked_by=HOSTILE, note=HOSTILE_NOTE, reason="<i>other</i>")]
    return make_report("vi", plant=make_plant(name=HOSTILE), alerts=alerts)


def test_html_escapes_hostile_text(hostile_report):
    html = render_html(hostile_report)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "<b>A-1" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;i&gt;other&lt;/i&gt;" in html  # an unknown reason code is shown, escaped


def test_html_is_self_contained_and_printable(report_vi):
    from reports.charts import draw_charts

    html = render_html(report_vi, draw_charts(report_vi))
    assert "@media print" in html
    assert "<link" not in html and "<script" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"(href|src)=\"https?:", html)


def test_html_vietnamese_text(report_vi):
    html = render_html(report_vi)
    for text in ("Báo cáo tuân thủ", "Lưu lượng vào", "Vượt ngưỡng", "Kim Bai Industrial",
                 report_vi.data_sha256, "KHÔNG ĐẠT"):
        assert text in html
    assert '<html lang="vi">' in html


def test_vietnamese_report_reads_as_a_regulator_expects(report_vi):
    """Designation not internal id, Vietnamese limit sources, limits as the permit writes
    them, the period in dates a person reads."""
    html = render_html(report_vi)
    assert "<td>QCVN 40:2011/BTNMT</td>" in html
    assert "<td>QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0 [C]</td>" in html
    assert "<td>QCVN 40:2011/BTNMT cột B (không áp dụng Kq/Kf) [C]</td>" in html
    assert '<td class="n">135</td>' in html and '<td class="n">5,5</td>' in html
    assert "Kỳ báo cáo 01/10/2026 – 03/10/2026" in html
    assert "<td>02/10/2026</td>" in html  # daily rows
    for internal in ("qcvn40-2011", "regulation:", "column", "135,000", "20261001"):
        assert internal not in html, internal


def test_html_english(report_en):
    html = render_html(report_en)
    assert "Compliance report" in html and "Limit exceeded" in html
    assert "Báo cáo" not in html


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, timeout=60)
    return done.stdout.decode("utf-8")


def test_pdf_text_has_name_regulation_and_diacritics(report_vi, tmp_path):
    pdf = render_pdf(report_vi)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"DejaVuSans" in pdf  # the font is embedded, no system font needed
    text = _pdftotext(pdf, tmp_path)
    for expected in ("Kim Bai Industrial Cluster WWTP", "QCVN 40:2011/BTNMT", "Báo cáo tuân thủ",
                     "Lưu lượng vào", "Vượt ngưỡng", "Nguyễn Văn An", "KHÔNG ĐẠT",
                     "Kỳ báo cáo 01/10/2026 – 03/10/2026", "cột B × Kq 0,9 × Kf 1,0 [C]"):
        assert expected in text, expected
    assert "qcvn40-2011" not in text and "regulation:" not in text


def test_pdf_keeps_hostile_text_literal(hostile_report, tmp_path):
    text = _pdftotext(render_pdf(hostile_report), tmp_path)
    assert HOSTILE in text


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _same(cell: str, value: object) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, float):
        return float(cell) == value
    return cell == str(value)


def test_treatment_csv_equals_check_result(report_vi):
    rows = _rows(render_table(report_vi, "treatment"))
    expected = [r.to_json() for r in make_result().treatment if r.plant == "kim-bai"]
    assert len(rows) == len(expected) + 1  # + period total
    for row, want in zip(rows, expected, strict=False):
        assert all(_same(row[k], v) for k, v in want.items()), (row, want)
    assert rows[-1]["date"] == "2026-10-01/2026-10-03"
    assert float(rows[-1]["bypass_m3"]) == 15.0


def test_episodes_csv_equals_findings(report_vi):
    rows = _rows(render_table(report_vi, "episodes"))
    expected = sorted((f.to_json() for f in make_result().findings), key=lambda j: j["start"])
    assert [r["kind"] for r in rows] == [j["kind"] for j in expected]
    for row, want in zip(rows, expected, strict=True):
        assert all(_same(row[k], v) for k, v in want.items()), (row, want)
    cod = next(r for r in rows if r["parameter"] == "cod")
    assert float(cod["duration_minutes"]) == 60.0


def test_parameters_csv(report_vi):
    rows = {(r["station"], r["parameter"]): r for r in _rows(render_table(report_vi, "parameters"))}
    cod = rows[("outlet", "cod")]
    assert (cod["over_limit"], cod["max"], cod["limit_max"]) == ("12", "151.2", "135.0")
    assert cod["calibrating_minutes"] == "120.0"


def test_daily_csv(report_vi):
    rows = _rows(render_table(report_vi, "daily"))
    assert [r["status"] for r in rows] == ["ok", "violation", "violation"]
    assert rows[1]["bypass_m3"] == "15.0" and rows[1]["compliant_ratio"] == "0.9353"
    assert "mean_cod" in rows[0]


def test_data_csv_matches_hash(report_vi):
    assert hashlib.sha256(render_table(report_vi, "data")).hexdigest() == report_vi.data_sha256


def test_write_report_file_names(report_vi, tmp_path):
    paths = write_report(report_vi, ["html", "pdf", "csv"], tmp_path)
    names = sorted(p.name for p in paths)
    stem = "kim-bai_20261001-20261003"
    assert names == sorted([f"{stem}_vi.html", f"{stem}_vi.pdf", *(
        f"{stem}_{t}.csv" for t in ("daily", "parameters", "episodes", "treatment", "alerts",
                                    "data"))])
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)
    data = tmp_path / f"{stem}_data.csv"
    assert hashlib.sha256(data.read_bytes()).hexdigest() == report_vi.data_sha256


def test_write_report_rejects_unknown_format(report_vi, tmp_path):
    with pytest.raises(ReportsError):
        write_report(report_vi, ["docx"], tmp_path)


@pytest.mark.parametrize(
    ("text", "part"),
    [("kim-bai", "kim-bai"), ("../../etc/passwd", "etc-passwd"), ("a/b\\c", "a-b-c"),
     ("Trạm 1", "Tr-m-1")],
)
def test_safe_part(text, part):
    assert safe_part(text) == part


@pytest.mark.parametrize("name", ["../x.txt", "/etc/passwd", ".hidden", "a/b.txt", "a\\b", ""])
def test_unsafe_names_rejected(name, tmp_path):
    with pytest.raises(ReportsError):
        safe_path(tmp_path, name)
    with pytest.raises(ReportsError):
        check_name(name)
