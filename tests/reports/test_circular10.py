"""Circular 10 export: file names (local time, codes, safety), lines and status codes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from reports.circular10 import export_circular10
from reports.settings import Circular10Layout, ReportSettings
from tests.reports.sample_plant import make_plant

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 10, 1, tzinfo=ZONE)
END = datetime(2026, 10, 2, tzinfo=ZONE)
LAYOUT = Circular10Layout(province="HN", facility="KIMBAI",
                          station_codes={"outlet": "NT-OUT", "inlet": "NT-IN"})


def _frame() -> pd.DataFrame:
    nan = np.nan
    rows = [
        # 2026-09-30T17:00Z is 2026-10-01 00:00 in Hanoi
        ("2026-09-30T17:00:00Z", "outlet", 7.123, 45.2, 0, 0, nan, 61.5),
        ("2026-09-30T17:05:00Z", "outlet", 7.2, 999.0, 0, 1, nan, 61.0),  # calibrating COD
        ("2026-09-30T17:10:00Z", "outlet", 7.3, nan, 0, 2, nan, nan),  # COD device error
        ("2026-09-30T17:00:00Z", "inlet", nan, nan, 0, 0, 62.5, nan),
        ("2026-09-30T16:55:00Z", "outlet", 7.0, 40.0, 0, 0, nan, 60.0),  # before the period
        ("2026-10-01T17:00:00Z", "outlet", 7.0, 40.0, 0, 0, nan, 60.0),  # at the (open) end
    ]
    frame = pd.DataFrame(rows, columns=["time", "station", "ph", "cod", "ph_status",
                                        "cod_status", "flow_in", "flow_out"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["plant"] = "kim-bai"
    frame["flow_in_status"] = 0
    frame["flow_out_status"] = 0
    frame.loc[len(frame)] = frame.iloc[0]
    frame.loc[len(frame) - 1, "plant"] = "other-plant"
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


@pytest.fixture
def files(tmp_path):
    paths = export_circular10(_frame(), make_plant(), START, END, tmp_path, LAYOUT)
    return {p.name: p.read_text(encoding="utf-8") for p in paths}


def test_file_names_use_codes_and_local_time(files):
    assert sorted(files) == [
        "HN_KIMBAI_NT-IN_20261001000000.txt",
        "HN_KIMBAI_NT-OUT_20261001000000.txt",
        "HN_KIMBAI_NT-OUT_20261001000500.txt",
        "HN_KIMBAI_NT-OUT_20261001001000.txt",
    ]


def test_lines_are_tab_separated_in_station_order(files):
    lines = files["HN_KIMBAI_NT-OUT_20261001000000.txt"].splitlines()
    assert lines == [
        "Flow\t61.50\tm3/h\t20261001000000\t00",
        "pH\t7.12\t-\t20261001000000\t00",
        "COD\t45.20\tmg/L\t20261001000000\t00",
    ]
    inlet = files["HN_KIMBAI_NT-IN_20261001000000.txt"]
    assert inlet == "FlowIn\t62.50\tm3/h\t20261001000000\t00\n"


@pytest.mark.parametrize(
    ("name", "cod_line"),
    [
        ("HN_KIMBAI_NT-OUT_20261001000500.txt", "COD\t999.00\tmg/L\t20261001000500\t01"),
        ("HN_KIMBAI_NT-OUT_20261001001000.txt", "COD\t\tmg/L\t20261001001000\t02"),
    ],
)
def test_status_codes(files, name, cod_line):
    assert cod_line in files[name].splitlines()


def test_layout_options(tmp_path):
    layout = Circular10Layout(
        province="DN", facility="F1", separator=";", line_ending="\r\n", decimals=1,
        parameter_names={"cod": "COD_TOTAL"}, units={"cod": "mg/l"},
        filename_pattern="{facility}-{station}-{time}.dat", include_missing_with_status=False)
    paths = export_circular10(_frame(), make_plant(), START, END, tmp_path, layout)
    names = sorted(p.name for p in paths)
    assert names[0] == "F1-inlet-20261001000000.dat"
    text = (tmp_path / "F1-outlet-20261001000500.dat").read_bytes().decode()
    assert "COD_TOTAL;999.0;mg/l;20261001000500;01\r\n" in text
    errored = (tmp_path / "F1-outlet-20261001001000.dat").read_text()
    assert "COD_TOTAL" not in errored  # no value and missing-with-status lines disabled


def test_progress_reports_completion(tmp_path):
    calls: list[tuple[int, int]] = []
    export_circular10(_frame(), make_plant(), START, END, tmp_path, LAYOUT,
                      progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (4, 4)


def test_files_stay_inside_out_dir(tmp_path):
    out = tmp_path / "out"
    export_circular10(_frame(), make_plant(), START, END, out, LAYOUT)
    assert {p.parent for p in tmp_path.rglob("*.txt")} == {out}


@pytest.mark.parametrize(
    "bad",
    [
        {"province": "../etc"},
        {"facility": "a/b"},
        {"facility": "..\\x"},
        {"station_codes": {"outlet": "../../x"}},
        {"filename_pattern": "../{station}_{time}.txt"},
        {"filename_pattern": "/tmp/{station}_{time}.txt"},
        {"filename_pattern": "{station}/{time}.txt"},
        {"filename_pattern": ".{station}_{time}.txt"},
        {"filename_pattern": "{station}_{time.year}.txt"},
        {"filename_pattern": "{plant}_{station}_{time}.txt"},
        {"filename_pattern": "{station}.txt"},
        {"time_format": "%Y/%m/%d"},
        {"separator": "\n"},
        {"parameter_names": {"cod": "C\tOD"}},
        {"unknown_key": 1},
    ],
)
def test_layout_rejects_unsafe_values(bad):
    with pytest.raises(ValidationError):
        Circular10Layout(**bad)


def test_report_settings_section():
    settings = ReportSettings.model_validate({
        "lang": "en", "formats": ["pdf"], "out_dir": "monthly", "email_pdf": True,
        "email_to": ["so-tnmt@example.vn"],
        "circular10": {"province": "HN", "facility": "KIMBAI"},
    })
    assert settings.circular10.facility == "KIMBAI" and settings.formats == ("pdf",)
    with pytest.raises(ValidationError):
        ReportSettings.model_validate({"formats": ["docx"]})
    with pytest.raises(ValidationError):
        ReportSettings.model_validate({"email_to": ["not an address"]})
    with pytest.raises(ValidationError):
        ReportSettings.model_validate({"email_pdf": True})


def test_naive_times_rejected(tmp_path):
    from reports.errors import ReportsError

    with pytest.raises(ReportsError):
        export_circular10(_frame(), make_plant(), START.replace(tzinfo=None), END, tmp_path,
                          LAYOUT)
