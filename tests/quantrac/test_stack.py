"""The local stack starts real servers and leaves no orphan process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from quantrac.stack import LocalStack, influx_ping, mosquitto_config, mqtt_ping

CHILD = textwrap.dedent(
    """
    import json, signal, sys, time
    from quantrac.stack import LocalStack, terminate_on_sigterm
    # A caller started from a script's background job inherits SIGINT ignored; this one
    # stands for a caller that Ctrl-C stops.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with terminate_on_sigterm(), LocalStack() as s:
        print(json.dumps({"pids": s.pids, "root": str(s.root)}), flush=True)
        time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (reaped only by its parent).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def _wait_gone(pids: list[int], seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        time.sleep(0.1)
    return alive


def test_broker_config_sets_the_deliberate_options(tmp_path):
    conf = mosquitto_config(1883, tmp_path)
    assert "set_tcp_nodelay true" in conf
    assert "max_queued_messages 1000000" in conf
    assert "persistence true" in conf


def test_stack_answers_and_stops(tmp_path):
    with LocalStack() as local:
        assert mqtt_ping(local.mqtt_host, local.mqtt_port)
        assert influx_ping(local.influx_url)
        pids = local.pids
        local.create_database("probe")
        shown = requests.get(
            f"{local.influx_url}/query", params={"q": "SHOW DATABASES"}, timeout=5
        ).json()
        assert ["probe"] in shown["results"][0]["series"][0]["values"]
    assert _wait_gone(pids) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_no_orphans_when_the_caller_dies(sig):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline()
        info = json.loads(line)
        pids = info["pids"]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        child.send_signal(sig)
        child.wait(20)
        assert _wait_gone(pids) == [], f"orphans after {sig.name}"
        if sig != signal.SIGKILL:
            assert not os.path.exists(info["root"]), "temporary data dir left behind"
        else:  # nothing can clean up after SIGKILL: the test does it
            shutil.rmtree(info["root"], ignore_errors=True)
    finally:
        if child.poll() is None:
            child.kill()
