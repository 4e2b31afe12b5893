"""`quantrac users` and `quantrac web` as a person runs them: exit codes per SPEC (2 for bad
usage naming the field), the password shown once, tokens, the listen address (flag > env >
config > default), the generated key, /healthz, and a clean stop on SIGTERM."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from quantrac.cli import main

CONFIG = """
[state]
dir = "{state}"
[web]
listen = "127.0.0.1:{port}"
[[plants]]
id = "kim-bai"
cluster = "kim-bai"
name = "Kim Bai WWTP"
design_flow_m3_day = 1500
kq = 0.9
[plants.stations]
outlet = ["cod", "ph"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(tmp_path: Path, port: int = 8080) -> Path:
    path = tmp_path / "quantrac.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", port=port))
    return path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def quantrac(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
             ) -> Callable[..., Run]:
    """`quantrac ARGS` in this process (the CLI's own main: exit code, stdout, stderr)."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
        capsys.readouterr()
        root = logging.getLogger()
        with monkeypatch.context() as patch:
            # `web` sets up logging for a process; this one must get its own back.
            patch.setattr(root, "handlers", list(root.handlers))
            patch.setattr(root, "level", root.level)
            patch.setattr(sys, "stdin", io.StringIO(stdin or ""))
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            code = main(list(args))
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def test_users_add_list_disable_token(tmp_path: Path, quantrac: Callable[..., Run]) -> None:
    config = str(write_config(tmp_path))
    added = quantrac("users", "add", "lan", "--role", "operator", "--plants", "kim-bai",
                     "--config", config)
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert lines[0] == "user lan added (operator; plants: kim-bai)"
    assert lines[1].startswith("password (shown once): ") and len(lines[1].split()[-1]) >= 16
    piped = quantrac("users", "add", "thanh-tra", "--role", "regulator", "--password-stdin",
                     "--config", config, stdin="mật-khẩu-dài-lắm\n")
    assert piped.returncode == 0 and "password" not in piped.stdout
    token = quantrac("users", "token", "lan", "--config", config)
    assert token.returncode == 0 and token.stdout.strip().startswith("qt_")
    listed = json.loads(quantrac("users", "list", "--json", "--config", config).stdout)
    assert [(u["name"], u["role"], u["plants"], u["tokens"]) for u in listed] == [
        ("lan", "operator", ["kim-bai"], 1), ("thanh-tra", "regulator", [], 0)]
    disabled = quantrac("users", "disable", "lan", "--config", config)
    assert disabled.returncode == 0
    table = quantrac("users", "list", "--config", config).stdout
    assert "lan" in table and "disabled" in table
    db = sqlite3.connect(tmp_path / "state" / "console.sqlite")
    actions = [row[0] for row in db.execute("SELECT action FROM audit ORDER BY seq")]
    assert actions == ["user_added", "user_added", "token_issued", "user_disabled"]
    assert token.stdout.strip() not in (tmp_path / "state" / "console.sqlite").read_bytes(
        ).decode("latin-1")


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["users", "add", "x", "--role", "boss"], None, "--role: invalid choice: 'boss'"),
    (["users", "add", "x", "--role", "operator", "--plants", "nowhere"], None,
     "--plants: nowhere not in the config"),
    (["users", "add", "x", "--role", "operator"], None, "needs --plants or --clusters"),
    (["users", "add", "Xy Z", "--role", "admin"], None, "is not a user name"),
    (["users", "add", "x", "--role", "admin", "--password-stdin"], "short\n",
     "password: at least 10 characters"),
    (["users", "disable", "ghost"], None, "no user 'ghost'"),
    (["users", "token", "ghost"], None, "no user 'ghost'"),
])
def test_users_bad_usage_exits_2_naming_the_field(
    tmp_path: Path, quantrac: Callable[..., Run], args: list[str], stdin: str | None,
    message: str,
) -> None:
    result = quantrac(*args, "--config", str(write_config(tmp_path)), stdin=stdin)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_users_plants_need_a_config_to_check_them(
    tmp_path: Path, quantrac: Callable[..., Run]
) -> None:
    result = quantrac("users", "add", "x", "--role", "operator", "--plants", "kim-bai",
                      env={"QUANTRAC_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2 and "give --config FILE" in result.stderr


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"quantrac web exited: {process.communicate()}")
        try:
            if httpx2.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("quantrac web did not answer /healthz")


def test_web_listens_where_told_makes_its_key_and_stops_on_sigterm(tmp_path: Path) -> None:
    config_port, env_port = free_port(), free_port()
    config = str(write_config(tmp_path, config_port))
    process = subprocess.Popen(
        [sys.executable, "-m", "quantrac.cli", "web", "--config", config],
        env={**os.environ, "QUANTRAC_WEB_LISTEN": f"127.0.0.1:{env_port}"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{env_port}", process)  # env wins over the file
        key = tmp_path / "state" / "console.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        page = httpx2.get(f"http://127.0.0.1:{env_port}/alerts")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Falerts"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{env_port}/" in err and "no accounts yet" in err
    assert key.read_text().strip() not in out + err  # the secret is never printed


def test_web_listen_flag_wins_and_bad_addresses_exit_2(
    tmp_path: Path, quantrac: Callable[..., Run]
) -> None:
    config = str(write_config(tmp_path, free_port()))
    bad = quantrac("web", "--config", config, "--listen", "localhost")
    assert bad.returncode == 2 and "--listen: expected HOST:PORT" in bad.stderr
    bad_env = quantrac("web", "--config", config, env={"QUANTRAC_WEB_LISTEN": "nowhere:99999"})
    assert bad_env.returncode == 2 and "web.listen" in bad_env.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = quantrac("web", "--config", config, "--listen", f"127.0.0.1:{port}")
    assert busy.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
