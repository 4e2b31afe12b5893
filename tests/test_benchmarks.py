"""Every benchmark still runs and prints its one JSON line (tiny sizes: a smoke test of the
benchmark code, not a measurement; `make bench` runs them at full size).

bench_replay.py is left out here: its shortest run takes ~40 s; the spool replay itself is
covered by tests/reliability.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).parent / "benchmarks"


def run_benchmark(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=BENCHMARKS,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout[-2000:]
    result: dict[str, Any] = json.loads(lines[0])
    return result


def test_ingest_reports_ratios_and_the_machine_bound() -> None:
    result = run_benchmark("bench_ingest.py", "--messages", "300", "--rounds", "1",
                           "--plants", "10")
    assert result["benchmark"] == "ingest"
    for shape, per_record in (("single", 1), ("array100", 100)):
        rows = result[shape]
        for kind in ("bare", "collector", "naive", "store"):
            assert rows[kind]["records_per_s"] > 0
            assert rows[kind]["records"] % per_record == 0
        assert rows["ratio_vs_ceiling"] == pytest.approx(
            rows["collector"]["records_per_s"] / rows["bare"]["records_per_s"], abs=1e-3)
        cpu = rows["collector"]["process_cpu_us_per_record"]
        assert set(cpu) == {"publisher", "broker", "influxd", "consumer"}
        assert cpu["consumer"] > 0  # the others may round to 0 clock ticks in so short a run
        bound = rows["machine_bound"]
        assert bound["max_records_per_s_paho_json_consumer"] \
            < bound["max_records_per_s_any_consumer"]
        assert bound["target_records_per_s"] == round(0.7 * rows["bare"]["records_per_s"])


def test_peer_without_npm_skips_node_red_and_says_why() -> None:
    """The peer benchmark's own consumers at a tiny size; Node-RED is not installed here (an
    npm that does not exist), and the JSON line says so instead of failing."""
    result = run_benchmark("bench_peer.py", "--messages", "300", "--rounds", "1", "--plants",
                           "10", "--publishers", "2", "--npm", "/nonexistent/npm")
    assert result["benchmark"] == "peer"
    assert result["node_red"] == {"skipped": "npm not found on PATH"}
    for shape in ("single", "array100"):
        rows = result[shape]
        assert set(rows) == {"bare", "bare_adapter", "quantrac", "store"}
        assert rows["bare_adapter"]["stored"] == rows["bare_adapter"]["records"]
        assert rows["quantrac"]["stored"] == rows["quantrac"]["records"]
        assert rows["quantrac"]["cpu_us_per_record"] > 0
        assert rows["bare"]["publish_records_per_s"] > 0
        assert set(rows["quantrac"]["process_cpu_us_per_record"]) == {
            "publishers", "broker", "influxd", "consumer"}
    targets = result["targets"]
    assert targets["array_vs_faster_nodered"]["met"] is None  # no peer measured
    assert targets["single_vs_bare"]["value"] == pytest.approx(
        result["single"]["quantrac"]["records_per_s"] / result["single"]["bare"]["records_per_s"],
        abs=1e-3)
    assert targets["single_vs_bare_adapter"]["value"] == pytest.approx(
        result["single"]["quantrac"]["records_per_s"]
        / result["single"]["bare_adapter"]["records_per_s"], abs=1e-3)


@pytest.mark.parametrize(("script", "args", "name"), [
    ("bench_alert_latency.py", ("--breaches", "20", "--seconds", "6"), "alert_latency"),
    ("bench_checks.py", ("--plants", "3", "--days", "1,2", "--baseline-plants", "1"), "checks"),
    ("bench_console.py", ("--plants", "3", "--days", "2", "--requests", "3", "--clients", "5",
                          "--per-client", "2", "--naive-plants", "2"), "console"),
    ("bench_memory.py", ("--plants", "20", "--messages", "500"), "memory"),
    ("bench_simulator.py", ("--plants", "2", "--hours", "1"), "simulator.generate"),
    ("bench_report.py", (), "report"),
    ("bench_province.py", ("--clusters", "1,2", "--factories", "2", "--days", "2"), "province"),
    ("bench_rules.py", (), "rules.evaluate"),
    ("bench_scaleout.py", ("--messages", "100", "--rounds", "1", "--plants", "10"), "scaleout"),
])
def test_benchmark_prints_its_json_line(script: str, args: tuple[str, ...], name: str) -> None:
    result = run_benchmark(script, *args)
    assert result["benchmark"] == name
    assert len(result) > 2
