"""The command line as SPEC fixes it: flags, exit codes, one-line errors, JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

CONFIG = """
[state]
dir = "{state}"

[[plants]]
id = "kim-bai"
cluster = "kim-bai"
name = "Kim Bai Industrial Cluster WWTP"
timezone = "Asia/Ho_Chi_Minh"
design_flow_m3_day = 1500
regulation = "qcvn40-2011"
column = "B"
kq = 0.9
interval = "5m"
[plants.stations]
inlet = ["flow_in"]
outlet = ["flow_out", "ph", "cod"]
"""


def quantrac(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantrac.cli", *args], capture_output=True, text=True,
        timeout=120, env={**os.environ, **(env or {})},
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "quantrac.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return path


@pytest.fixture
def day_csv(tmp_path: Path) -> Path:
    """One Hanoi day of 5-minute data; COD above 135 mg/L from 10:00 to 11:00 local."""
    start = datetime(2026, 10, 4, 17, 0, tzinfo=UTC)  # 2026-10-05 00:00 +07:00
    lines = ["time,plant,station,flow_in,flow_out,ph,cod,cod_status"]
    for i in range(288):
        ts = (start + timedelta(minutes=5 * i)).isoformat()
        cod = 180.0 if 120 <= i < 132 else 50.0
        lines.append(f"{ts},kim-bai,inlet,62.5,,,,")
        lines.append(f"{ts},kim-bai,outlet,,62.5,7.2,{cod},00")
    path = tmp_path / "day.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "command",
    [[], ["demo"], ["collect"], ["simulate"], ["limits"], ["check"], ["report"], ["export"],
     ["alerts"], ["alerts", "list"], ["alerts", "ack"], ["config", "check"]],
)
def test_every_command_has_help(command):
    result = quantrac(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_limits_json_is_exactly_the_spec_shape():
    result = quantrac("limits", "--regulation", "qcvn40-2011", "--column", "B", "--kq", "0.9",
                      "--flow", "1500", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["regulation", "column", "kq", "kf", "limits"]
    assert (doc["regulation"], doc["column"]) == ("qcvn40-2011", "B")
    assert (doc["kq"], doc["kf"]) == (0.9, 1.0)
    assert doc["limits"]["cod"] == {"max": 135.0, "unit": "mg/L"}
    assert doc["limits"]["ph"] == {"min": 5.5, "max": 9.0, "unit": ""}
    assert doc["limits"]["temperature"]["max"] == 40.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["limits", "--regulation", "qcvn40-2011", "--column", "C"], "invalid choice"),
        (["limits", "--regulation", "nope", "--column", "B"], "unknown regulation"),
        (["limits", "--column", "B"], "--regulation"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, needle):
    result = quantrac(*args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_config_check_accepts_a_good_file(config):
    result = quantrac("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert "kim-bai" in result.stdout


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (('column = "B"', 'column = "Z"'), "plants[0].column"),
        (("design_flow_m3_day = 1500", "design_flow_m3_day = -1"), "plants[0].design_flow_m3_day"),
        (('interval = "5m"', 'interval = "soon"'), "plants[0].interval"),
        (("[state]", "[state]\nbogus = 1"), "state.bogus"),
        (('id = "kim-bai"', 'id = "Kim Bai"'), "plants[0].id"),
    ],
)
def test_bad_config_exits_2_naming_the_field(config, edit, field):
    config.write_text(config.read_text().replace(*edit))
    result = quantrac("config", "check", str(config))
    assert result.returncode == 2
    assert field in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_toml_and_missing_file_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\nurl=")
    assert quantrac("config", "check", str(bad)).returncode == 2
    assert quantrac("config", "check", str(tmp_path / "missing.toml")).returncode == 2


def test_check_csv_json_reports_the_hourly_exceedance(config, day_csv):
    result = quantrac("check", "--config", str(config), "--csv", str(day_csv), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"findings", "treatment", "completeness", "clusters"}
    hourly = [f for f in doc["findings"]
              if f["parameter"] == "cod" and f["basis"] == "hourly_mean"]
    assert len(hourly) == 1
    finding = hourly[0]
    assert set(finding) == {"plant", "station", "parameter", "kind", "basis", "start", "end",
                            "value", "limit", "ratio", "severity"}
    assert finding["kind"] == "exceedance"
    assert finding["start"] == "2026-10-05T10:00:00+07:00"
    assert finding["end"] == "2026-10-05T11:00:00+07:00"
    assert finding["value"] == 180.0 and finding["limit"] == 135.0
    assert finding["ratio"] == 1.33 and finding["severity"] == "minor"
    (treatment,) = [t for t in doc["treatment"] if t["date"] == "2026-10-05"]
    assert treatment["inflow_m3"] == pytest.approx(1500, rel=0.01)
    assert set(treatment) == {"plant", "date", "inflow_m3", "outflow_m3", "bypass_m3",
                              "treated_ratio", "compliant_ratio"}
    assert treatment["date"] == "2026-10-05"
    row = doc["completeness"][0]
    assert set(row) == {"plant", "station", "parameter", "date", "expected", "valid", "fraction"}


def test_check_text_output_and_bad_csv(config, day_csv, tmp_path):
    result = quantrac("check", "--config", str(config), "--csv", str(day_csv))
    assert result.returncode == 0, result.stderr
    assert "cod" in result.stdout and "exceedance" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("time,plant,station,cod\nnot-a-time,kim-bai,outlet,1\n")
    result = quantrac("check", "--config", str(config), "--csv", str(bad))
    assert result.returncode == 2
    assert "line 2" in result.stderr


def test_check_needs_a_period_or_csv(config):
    result = quantrac("check", "--config", str(config))
    assert result.returncode == 2
    assert "--from" in result.stderr


def test_report_and_export_from_csv(config, day_csv, tmp_path):
    out = tmp_path / "out"
    result = quantrac("report", "--config", str(config), "--plant", "kim-bai", "--from",
                      "2026-10-05T00:00:00+07:00", "--to", "2026-10-06T00:00:00+07:00",
                      "--csv", str(day_csv), "--format", "html,csv", "--lang", "vi",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = next(out.glob("*.html")).read_text()
    assert "Kim Bai Industrial Cluster WWTP" in html and "Báo cáo" in html
    assert list(out.glob("*.csv"))
    result = quantrac("export", "--config", str(config), "--plant", "kim-bai", "--from",
                      "2026-10-05T10:00:00+07:00", "--to", "2026-10-05T11:00:00+07:00",
                      "--format", "circular10", "--csv", str(day_csv), "--out",
                      str(tmp_path / "c10"))
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "c10").iterdir())
    assert len(files) == 24  # 12 record times x 2 stations
    assert files[0].name.endswith("_20261005100000.txt")


def test_unknown_plant_exits_2(config, day_csv, tmp_path):
    result = quantrac("report", "--config", str(config), "--plant", "nowhere", "--month",
                      "2026-10", "--csv", str(day_csv), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "nowhere" in result.stderr


def test_alerts_list_on_an_empty_book_and_ack_unknown(config, tmp_path):
    result = quantrac("alerts", "list", "--config", str(config))
    assert result.returncode == 0, result.stderr
    result = quantrac("alerts", "ack", "A-999999", "--by", "me",
                      env={"QUANTRAC_STATE_DIR": str(tmp_path / "none")})
    assert result.returncode == 2
    assert "no alert book" in result.stderr


def test_env_override_wins_over_the_file(config, tmp_path):
    from quantrac.config import load_config

    loaded = load_config(config, env={"QUANTRAC_MQTT_URL": "mqtt://u:secret@broker:1884",
                                      "QUANTRAC_INFLUX_DB": "other",
                                      "QUANTRAC_STATE_DIR": str(tmp_path / "x")})
    assert (loaded.mqtt.host, loaded.mqtt.port) == ("broker", 1884)
    assert loaded.mqtt.credentials == ("u", "secret")
    assert loaded.influx.database == "other"
    assert loaded.state.dir == tmp_path / "x"
