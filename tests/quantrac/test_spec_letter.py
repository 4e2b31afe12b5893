"""SPEC "Command line" to the letter: edge cases found by a black-box conformance audit.

Each case runs `quantrac.cli.main` in-process (no broker or InfluxDB is reached: every error
below must be caught before any network call) and checks the exit code and the single stderr
line SPEC promises, or the traceback `--debug` promises.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quantrac.cli import main

CONFIG = """
[mqtt]
url = "mqtt://127.0.0.1:9"
[influx]
url = "http://127.0.0.1:9"
[state]
dir = "{state}"

[[plants]]
id = "kim-bai"
cluster = "kim-bai"
name = "Kim Bai Industrial Cluster WWTP"
design_flow_m3_day = 1500
kq = 0.9
[plants.stations]
outlet = ["flow_out", "cod"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "quantrac.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def test_debug_after_the_command_shows_the_traceback(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,plant,station,cod\n2026-10-05T00:00:00+07:00,kim-bai,outlet,abc\n")
    for argv in (["check", "--config", str(config), "--csv", str(bad), "--debug"],
                 ["--debug", "check", "--config", str(config), "--csv", str(bad)]):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert any(line.startswith("Traceback") for line in err), err
        assert "cod is not a number" in err[-1]
    code, _, err = run(capsys, "check", "--config", str(config), "--csv", str(bad))
    assert (code, len(err)) == (2, 1)


@pytest.mark.parametrize("argv", [
    ["alerts", "list", "--debug"],
    ["alerts", "--debug", "list"],
    ["config", "check", "--debug", "{config}"],
])
def test_debug_is_accepted_by_every_subcommand(
    argv: list[str], config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *[a.format(config=config) for a in argv])
    assert (code, err) == (0, [])


@pytest.mark.parametrize("argv, needle", [
    (["limits", "--regulation", "qcvn40-2011", "--column", "B", "--kq", "nan", "--json"],
     "--kq: not a finite number"),
    (["limits", "--regulation", "qcvn40-2011", "--column", "B", "--kq", "inf"],
     "--kq: not a finite number"),
    (["limits", "--regulation", "qcvn40-2011", "--column", "B", "--flow", "nan", "--json"],
     "--flow: not a finite number"),
    (["report", "--config", "{config}", "--plant", "kim-bai", "--month", "2026-10",
      "--format", "html,docx", "--out", "{out}"], "--format: unknown report format(s) ['docx']"),
    (["export", "--config", "{config}", "--plant", "kim-bai",
      "--from", "2026-10-05T01:00:00+07:00", "--to", "2026-10-05T00:00:00+07:00",
      "--format", "circular10", "--out", "{out}"], "--to must be after --from"),
    (["simulate", "--config", "{config}", "--scenario", "cod-spike", "--duration", "10m",
      "--backfill"], "needs at least one full hour"),
    (["demo", "--scenario", "nope", "--out", "{out}"], "unknown scenario 'nope'"),
    (["demo", "--hours", "0", "--out", "{out}"], "--hours must be positive"),
    (["demo", "--hours", "0.5", "--scenario", "cod-spike", "--out", "{out}"],
     "needs at least one full hour"),
    (["report", "--config", "{config}", "--plant", "kim-bai", "--month", "2026-10",
      "--from", "2026-10-01T00:00:00+07:00", "--to", "2026-10-02T00:00:00+07:00",
      "--out", "{out}"], "give either --month or --from/--to, not both"),
    (["report", "--config", "{config}", "--province", "--out", "{out}"],
     "--province needs --month YYYY-MM"),
    (["report", "--config", "{config}", "--province", "--month", "10/2026", "--out", "{out}"],
     "--month: expected YYYY-MM, got '10/2026'"),
    (["report", "--config", "{config}", "--province", "--month", "2099-01", "--out", "{out}"],
     "--month: 2099-01 has not begun"),
    (["report", "--config", "{config}", "--province", "--month", "2026-10", "--csv", "x.csv",
      "--out", "{out}"], "--csv is for --plant and --cluster reports"),
    (["report", "--config", "{config}", "--cluster", "kim-bai", "--month", "2026-10",
      "--out", "{out}"], "cluster 'kim-bai' has no [[clusters]] entry and no member factory"),
    (["report", "--config", "{config}", "--cluster", "nope", "--month", "2026-10",
      "--out", "{out}"], "--cluster: unknown cluster 'nope' (clusters: kim-bai)"),
    (["report", "--config", "{config}", "--cluster", "kim-bai", "--from",
      "2026-10-01T00:00:00+07:00", "--to", "2026-10-02T00:00:00+07:00", "--out", "{out}"],
     "--cluster reports cover a calendar month: give --month, not --from/--to"),
    (["report", "--config", "{config}", "--plant", "kim-bai", "--province", "--month",
      "2026-10", "--out", "{out}"], "argument --province: not allowed with argument --plant"),
])
def test_bad_usage_exits_2_before_any_network_call(
    argv: list[str], needle: str, config: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, *[a.format(config=config, out=tmp_path / "out") for a in argv])
    assert (code, out, len(err)) == (2, "", 1), err
    assert needle in err[0]
    assert not (tmp_path / "out").exists()


def test_offline_csv_time_errors_name_the_time_column(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "naive.csv"
    csv.write_text("time,plant,station,cod\n2026-10-05T00:00:00,kim-bai,outlet,50\n")
    code, _, err = run(capsys, "check", "--config", str(config), "--csv", str(csv))
    assert (code, len(err)) == (2, 1)
    assert "line 2: time '2026-10-05T00:00:00' has no UTC offset" in err[0]
    assert "'ts'" not in err[0]


@pytest.mark.parametrize("line, field", [
    ("kq = inf", "plants[0].kq: Input should be a finite number"),
    ("design_flow_m3_day = nan", "plants[0].design_flow_m3_day: Input should be a finite number"),
    ("[plants.limits]\ncod = -100", "plants[0].limits.cod.max: Input should be greater than 0"),
    ("[plants.limits]\ncod = nan", "plants[0].limits.cod.max: Input should be a finite number"),
    ("[plants.limits]\ncod = inf", "plants[0].limits.cod.max: Input should be a finite number"),
    ("[plants.limits]\nph = {min = 9, max = 6}", "plants[0].limits.ph.range: Value error, min 9.0"),
])
def test_config_check_rejects_unusable_permit_numbers(
    line: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CONFIG.format(state=tmp_path / "state")
    key = line.split(" =")[0]
    if key in ("kq", "design_flow_m3_day"):
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith(f"{key} ="))
        text = text.replace("[plants.stations]", f"{line}\n[plants.stations]")
    else:
        text += line + "\n"
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run(capsys, "config", "check", str(path))
    assert (code, len(err)) == (2, 1), err
    assert field in err[0]
    assert "(and" not in err[0]  # one form of the limit reported, not both


def test_config_check_accepts_permit_maxima_and_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state")
                    + "[plants.limits]\ncod = 100\ntss = 80.5\nph = {min = 6, max = 8.5}\n")
    code, out, err = run(capsys, "config", "check", str(path))
    assert (code, err) == (0, [])
    assert "ok" in out
