"""The shipped broker security, proved on the REAL Mosquitto binary (no Docker needed).

Each test starts /usr/sbin/mosquitto on a free loopback port in a temp dir, with one of the
shipped configs (deploy/mosquitto/local.conf and the compose stack's mosquitto.conf, their
file paths and listener rewritten to the temp dir), the SHIPPED aclfile and a password file
made by the real mosquitto_passwd. paho clients then check: anonymous and wrong passwords are
refused; a station's publish arrives only on its own data topic; its publishes to another
station's topic, to alerts and to state are dropped; the collector may publish alerts/state but
not forge readings; only operators may acknowledge alerts. "Dropped" is verified by
subscribing as the collector/operator and seeing only what the ACL grants (a positive
control publishes to each watched topic).
The static checks of the same files are in test_deploy_static.py.
"""

from __future__ import annotations

import getpass
import queue
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
PREFIX = "quantrac/v1/kim-bai/kim-bai"
OUTLET = "kim-bai.kim-bai.outlet"
INLET = "kim-bai.kim-bai.inlet"
PASSWORDS = {
    "quantrac-collector": "collector-pw",
    "quantrac-operator": "operator-pw",
    OUTLET: "outlet-pw",
    INLET: "inlet-pw",
}

pytestmark = pytest.mark.skipif(
    not (Path(MOSQUITTO).exists() and Path(MOSQUITTO_PASSWD).exists()),
    reason="needs Debian's mosquitto package (make test installs it)",
)


@dataclass
class Broker:
    port: int
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def localise(conf: str, tmp: Path, port: int) -> str:
    """Point a shipped config at the temp dir and a free loopback port; keep every tuning line."""
    out = []
    for line in conf.splitlines():
        key = line.split(" ", 1)[0]
        if key == "password_file":
            line = f"password_file {tmp / 'passwd'}"
        elif key == "acl_file":
            line = f"acl_file {tmp / 'aclfile'}"
        elif key == "persistence_location":
            continue
        elif key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key in ("log_dest", "log_timestamp_format"):
            continue
        out.append(line)
    out += [
        f"persistence_location {tmp}/",
        f"log_dest file {tmp / 'mosquitto.log'}",
        f"user {getpass.getuser()}",
    ]
    return "\n".join(out) + "\n"


@pytest.fixture(params=["mosquitto/local.conf", "mosquitto/mosquitto.conf"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    shutil.copy(DEPLOY / "mosquitto" / "aclfile", tmp_path / "aclfile")
    for index, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [MOSQUITTO_PASSWD, *create, "-b", str(tmp_path / "passwd"), user, password],
            check=True,
            capture_output=True,
        )
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(localise((DEPLOY / request.param).read_text(), tmp_path, port))
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode() if proc.stdout else ""
                log = (
                    (tmp_path / "mosquitto.log").read_text()
                    if (tmp_path / "mosquitto.log").exists()
                    else ""
                )
                pytest.fail(f"mosquitto refused {request.param}: {output}{log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("mosquitto did not open its port")
                time.sleep(0.05)
        yield Broker(port, tmp_path / "mosquitto.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Probe:
    """A paho client that records its CONNACK and every message it receives."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.connack: queue.Queue[mqtt.ReasonCode] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"probe-{user}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv311,
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connack.put(rc)
        self.client.on_message = lambda _c, _u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.code = self.connack.get(timeout=5)

    @property
    def accepted(self) -> bool:
        return not self.code.is_failure

    def subscribe(self, *topics: str) -> None:
        for topic in topics:
            result, _mid = self.client.subscribe(topic, qos=1)
            assert result == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.2)  # let the SUBACKs land before anyone publishes

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), f"no PUBACK for {topic}"

    def received(self, settle: float = 0.5) -> list[tuple[str, bytes]]:
        got = []
        deadline = time.monotonic() + settle
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), ("quantrac-collector", "wrong"), ("nobody", "x"), (OUTLET, "inlet-pw")],
)
def test_broker_refuses_anonymous_and_bad_logins(
    broker: Broker, user: str | None, password: str | None
) -> None:
    probe = Probe(broker.port, user, password)
    try:
        assert not probe.accepted
        assert str(probe.code) in ("Not authorized", "Bad user name or password")
    finally:
        probe.close()


def test_station_publishes_only_its_own_data_topic(broker: Broker) -> None:
    collector = Probe(broker.port, "quantrac-collector", PASSWORDS["quantrac-collector"])
    operator = Probe(broker.port, "quantrac-operator", PASSWORDS["quantrac-operator"])
    outlet = Probe(broker.port, OUTLET, PASSWORDS[OUTLET])
    try:
        assert collector.accepted and operator.accepted and outlet.accepted
        collector.subscribe("quantrac/v1/+/+/+/data")
        operator.subscribe("quantrac/v1/+/+/alerts", "quantrac/v1/+/+/state")

        # forbidden first, allowed last: all go over one connection, in order
        outlet.publish(f"{PREFIX}/inlet/data", b"forged inlet")
        outlet.publish("quantrac/v1/other/other/outlet/data", b"forged other plant")
        outlet.publish(f"{PREFIX}/alerts", b"forged alert")
        outlet.publish(f"{PREFIX}/state", b"forged state", retain=True)
        outlet.publish(f"{PREFIX}/outlet/data", b"genuine")
        assert collector.received() == [(f"{PREFIX}/outlet/data", b"genuine")]

        # positive control: the operator's subscriptions do work, for the collector
        collector.publish(f"{PREFIX}/alerts", b"real alert")
        collector.publish(f"{PREFIX}/state", b"real state", retain=True)
        assert sorted(operator.received()) == [
            (f"{PREFIX}/alerts", b"real alert"),
            (f"{PREFIX}/state", b"real state"),
        ]
    finally:
        for probe in (collector, operator, outlet):
            probe.close()


def test_other_roles_cannot_forge_or_eavesdrop(broker: Broker) -> None:
    collector = Probe(broker.port, "quantrac-collector", PASSWORDS["quantrac-collector"])
    operator = Probe(broker.port, "quantrac-operator", PASSWORDS["quantrac-operator"])
    inlet = Probe(broker.port, INLET, PASSWORDS[INLET])
    outlet = Probe(broker.port, OUTLET, PASSWORDS[OUTLET])
    try:
        collector.subscribe("quantrac/v1/+/+/+/data", "quantrac/v1/+/+/alerts/ack")
        inlet.subscribe("quantrac/v1/#")  # a station reads nothing, not even alerts
        operator.publish(f"{PREFIX}/outlet/data", b"operator forged")
        operator.publish(f"{PREFIX}/alerts", b"operator alert")
        collector.publish(f"{PREFIX}/outlet/data", b"collector forged")
        outlet.publish(f"{PREFIX}/alerts/ack", b"station ack")
        operator.publish(f"{PREFIX}/alerts/ack", b"operator ack")
        outlet.publish(f"{PREFIX}/outlet/data", b"genuine")
        assert sorted(collector.received()) == [
            (f"{PREFIX}/alerts/ack", b"operator ack"),
            (f"{PREFIX}/outlet/data", b"genuine"),
        ]
        assert inlet.received(settle=0.2) == []
    finally:
        for probe in (collector, operator, inlet, outlet):
            probe.close()


def test_make_acl_passwd_logins_work_on_the_real_broker(tmp_path: Path) -> None:
    """make-acl.py --passwd: its generated logins authenticate; reruns keep the passwords."""
    script = DEPLOY / "mosquitto" / "make-acl.py"
    config = DEPLOY / "etc" / "quantrac" / "quantrac.toml"
    args = [
        sys.executable,
        str(script),
        str(config),
        "--out",
        str(tmp_path / "aclfile"),
        "--passwd",
        str(tmp_path / "passwd"),
        "--credentials",
        str(tmp_path / "logins.csv"),
        "--mosquitto-passwd",
        MOSQUITTO_PASSWD,
    ]
    subprocess.run(args, check=True, capture_output=True)
    first = (tmp_path / "logins.csv").read_text()
    subprocess.run(args, check=True, capture_output=True)
    assert (tmp_path / "logins.csv").read_text() == first
    assert (tmp_path / "logins.csv").stat().st_mode & 0o077 == 0
    logins = dict(line.split(",") for line in first.strip().splitlines()[1:])
    assert set(logins) == {
        "quantrac-collector",
        "quantrac-operator",
        INLET,
        OUTLET,
        "kim-bai.kim-bai.bypass",
    }

    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(localise((DEPLOY / "mosquitto" / "local.conf").read_text(), tmp_path, port))
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no broker"
                time.sleep(0.05)
        good = Probe(port, "kim-bai.kim-bai.bypass", logins["kim-bai.kim-bai.bypass"])
        bad = Probe(port, "kim-bai.kim-bai.bypass", logins[OUTLET])
        assert good.accepted and not bad.accepted
        good.close()
        bad.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
