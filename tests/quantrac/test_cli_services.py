"""`quantrac simulate` and `quantrac collect` as a user runs them, against the real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from collector.influx1 import InfluxV1Store
from collector.settings import InfluxSettings
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

CONFIG = """
[mqtt]
url = "{mqtt}"
client_id = "cli-{plant}"
[influx]
url = "{influx}"
database = "{db}"
[state]
dir = "{state}"
[service]
http_port = 0
[alerts.channels.mqtt]
type = "mqtt"

[[plants]]
id = "{plant}"
cluster = "{plant}"
name = "CLI test plant"
design_flow_m3_day = 1500
kq = 0.9
interval = "5m"
[plants.stations]
inlet = ["flow_in"]
outlet = ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"]
bypass = ["flow_bypass"]
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "quantrac.cli", *args]


def test_collect_stores_what_simulate_publishes(stack, influx_db, tmp_path, unique_id):
    config = tmp_path / "q.toml"
    config.write_text(CONFIG.format(mqtt=stack.mqtt_url, influx=stack.influx_url, db=influx_db,
                                    state=tmp_path / "state", plant=unique_id))
    collector = subprocess.Popen(_cli("collect", "--config", str(config)),
                                 stderr=subprocess.PIPE, text=True)
    try:
        # "ready" = connected and subscribed: its session exists before the backfill starts.
        seen = []
        for _ in range(50):
            seen.append(collector.stderr.readline())
            if seen[-1].strip().endswith("ready") or not seen[-1]:
                break
        assert "quantrac collector: 1 plant(s)" in seen[-1], seen
        truth = tmp_path / "truth.json"
        sim = subprocess.run(
            _cli("simulate", "--config", str(config), "--scenario", "cod-spike,malformed",
                 "--start", "2026-11-02T00:00:00+07:00", "--duration", "6h", "--backfill",
                 "--seed", "3", "--truth", str(truth)),
            capture_output=True, text=True, timeout=120,
        )
        assert sim.returncode == 0, sim.stderr
        summary = json.loads(sim.stdout.strip().splitlines()[-1])
        doc = json.loads(truth.read_text())
        assert summary["malformed"] == doc["published"]["malformed"] > 0
        expected = summary["records"] - summary["duplicates"]
        store = InfluxV1Store(InfluxSettings(url=stack.influx_url, database=influx_db))
        assert wait_for(lambda: store.count(unique_id) == expected, timeout=30)
        assert {e["expected_finding"] for e in doc["episodes"]} >= {"exceedance"}
        # The stored data, read back by the regulator-facing commands.
        period = ["--from", "2026-11-02T00:00:00+07:00", "--to", "2026-11-02T06:00:00+07:00"]
        check = subprocess.run(_cli("check", "--config", str(config), *period, "--json"),
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        found = json.loads(check.stdout)["findings"]
        (spike,) = [e for e in doc["episodes"] if e["expected_finding"] == "exceedance"]
        cod = [f for f in found if f["parameter"] == "cod" and f["kind"] == "exceedance"]
        assert cod and cod[0]["start"] >= spike["start"] and cod[0]["end"] <= spike["end"]
        report = subprocess.run(_cli("report", "--config", str(config), "--plant", unique_id,
                                     *period, "--format", "pdf", "--out", str(tmp_path / "r")),
                                capture_output=True, text=True, timeout=120)
        assert report.returncode == 0, report.stderr
        assert list((tmp_path / "r").glob("*.pdf"))
        export = subprocess.run(_cli("export", "--config", str(config), "--plant", unique_id,
                                     "--from", "2026-11-02T00:00:00+07:00", "--to",
                                     "2026-11-02T01:00:00+07:00", "--format", "circular10",
                                     "--out", str(tmp_path / "c10")),
                                capture_output=True, text=True, timeout=120)
        assert export.returncode == 0, export.stderr
        assert len(list((tmp_path / "c10").iterdir())) == 12 * 3  # 12 times × 3 stations
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)
    assert collector.returncode == 0
    assert "quantrac collector stopped" in collector.stderr.read()


def test_simulate_bad_flags_exit_2(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text(CONFIG.format(mqtt="mqtt://127.0.0.1:1", influx="http://127.0.0.1:2",
                                    db="x", state=tmp_path / "s", plant="kb"))
    for args in (["--scenario", "no-such-scenario"], ["--duration", "forever"],
                 ["--speed", "2", "--backfill"]):
        result = subprocess.run(_cli("simulate", "--config", str(config), *args),
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ})
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


def test_simulate_unreachable_broker_exits_1(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text(CONFIG.format(mqtt="mqtt://127.0.0.1:1", influx="http://127.0.0.1:2",
                                    db="x", state=tmp_path / "s", plant="kb"))
    result = subprocess.run(_cli("simulate", "--config", str(config), "--backfill",
                                 "--duration", "1h"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert Path(config).exists()
