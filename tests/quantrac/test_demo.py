"""`quantrac demo`, the newcomer's main job, end to end on its own private servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_and_writes_the_report(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "quantrac.cli", "demo", "--hours", "6", "--scenario", "cod-spike",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "QUANTRAC_DEMO_SECONDS": "12"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert "[ALERT] Limit exceeded: COD at outlet" in text
    assert "console: http://127.0.0.1:" in text and "demo login (regulator): " in text
    published = int(text.split("records published :")[1].split()[0])
    stored = int(text.split("records stored    :")[1].split()[0])
    assert published == stored == 216  # 6 h × 12 steps × 3 stations
    assert "dead letters      : 0" in text
    names = {p.suffix for p in out.iterdir()}
    assert {".html", ".pdf", ".csv"} <= names
    assert (out / "kim-bai_hourly_means.csv").read_text().startswith("hour,station")
    assert "servers stopped" in text


def test_demo_serves_the_console_and_keep_runs_until_stopped(tmp_path):
    """`quantrac demo --keep`: the console answers with the printed login, readings go on in
    real time after the simulated hours, and SIGTERM (like Ctrl-C) stops everything cleanly."""
    import re
    import signal

    import httpx2

    child = subprocess.Popen(
        [sys.executable, "-m", "quantrac.cli", "demo", "--hours", "2", "--keep",
         "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "QUANTRAC_DEMO_SECONDS": "6"},
    )
    try:
        lines: list[str] = []
        while not any(line.startswith("--keep:") for line in lines):
            line = child.stdout.readline()
            assert line, "".join(lines) + child.stderr.read()[-2000:]
            lines.append(line)
        text = "".join(lines)
        url = re.search(r"^console: (http://\S+)/ ", text, re.M).group(1)
        name, password = re.search(r"demo login \(operator\): (\S+) / (\S+)", text).groups()
        with httpx2.Client(base_url=url, timeout=20) as client:
            assert "Kim Bai" in client.get("/public/kim-bai").text
            page = client.get("/login")
            token = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
            signed = client.post("/login", data={"username": name, "password": password,
                                                 "csrf_token": token})
            assert signed.status_code == 303
            latest = client.get("/api/v1/plants/kim-bai/latest").json()
            assert any(v["value"] is not None for v in latest["values"])
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err[-2000:]
    assert "servers stopped" in out
    with pytest.raises(httpx2.TransportError):
        httpx2.get(url + "/healthz", timeout=2)
