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
    published = int(text.split("records published :")[1].split()[0])
    stored = int(text.split("records stored    :")[1].split()[0])
    assert published == stored == 216  # 6 h × 12 steps × 3 stations
    assert "dead letters      : 0" in text
    names = {p.suffix for p in out.iterdir()}
    assert {".html", ".pdf", ".csv"} <= names
    assert (out / "kim-bai_hourly_means.csv").read_text().startswith("hour,station")
    assert "servers stopped" in text
