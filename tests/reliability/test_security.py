"""Security on real brokers: password authentication (credentials from QUANTRAC_MQTT_URL),
refusal with one clear line, TLS with a private CA, secrets never logged, private state dir."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.errors import CollectorError
from collector.mqtt import MqttConnection
from collector.payload import encode_message
from collector.service import Collector
from collector.settings import MqttSettings
from quantrac.config import ConfigError, load_config, parse_config
from simulator.publisher import Publisher as StationPublisher
from tests.conftest import wait_for
from tests.reliability.rig import PrivateBroker, collector_config, records

pytestmark = pytest.mark.integration
PASSWORD = "Wq7-secret-horse"  # distinctive: searched for in every log and message
T0 = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture
def password_broker(tmp_path):
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not os.path.exists(passwd):
        pytest.skip("mosquitto_passwd not installed (Debian package mosquitto)")
    pwfile = tmp_path / "broker" / "passwd"
    pwfile.parent.mkdir()
    subprocess.run([passwd, "-b", "-c", str(pwfile), "quantrac", PASSWORD], check=True,
                   capture_output=True)
    pwfile.chmod(0o600)
    broker = PrivateBroker(tmp_path / "broker",
                           ["allow_anonymous false", f"password_file {pwfile}"])
    yield broker
    broker.close()


def _toml(path: Path, stack, db: str, state: Path, plant: str) -> Path:
    path.write_text(f"""
[mqtt]
url = "mqtt://127.0.0.1:1"
client_id = "sec-{plant}"
[influx]
url = "{stack.influx_url}"
database = "{db}"
[state]
dir = "{state}"
[service]
http_port = 0
[[plants]]
id = "{plant}"
cluster = "{plant}"
name = "Security test plant"
design_flow_m3_day = 1500
regulation = "qcvn40-2011"
column = "B"
kq = 0.9
interval = "5m"
[plants.stations]
outlet = ["cod"]
""")
    return path


def test_collector_connects_with_credentials_from_the_environment(
    password_broker, stack, influx_db, tmp_path, unique_id, caplog
):
    caplog.set_level(logging.DEBUG)
    url = f"mqtt://quantrac:{PASSWORD}@127.0.0.1:{password_broker.port}"
    config = load_config(_toml(tmp_path / "c.toml", stack, influx_db, tmp_path / "st", unique_id),
                         env={"QUANTRAC_MQTT_URL": url})
    collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                          config.checks, config.alerts)
    collector.start()
    try:
        settings = MqttSettings(url=url)
        with StationPublisher(settings) as station:
            for record in records(5, T0):
                station.publish(f"quantrac/v1/{unique_id}/{unique_id}/outlet/data",
                                encode_message([record]))
        assert wait_for(lambda: collector.store.count(unique_id) == 5, timeout=15)
        assert stat.S_IMODE(config.state.dir.stat().st_mode) == 0o700
    finally:
        collector.stop()
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.mqtt)


@pytest.mark.parametrize("userinfo", ["", "quantrac:wrong-" + PASSWORD + "@"])
def test_refused_without_valid_credentials_with_one_clear_line(
    password_broker, stack, influx_db, tmp_path, unique_id, userinfo
):
    """`quantrac collect` exits 1 with one line naming the refusal; the password never shows."""
    config = _toml(tmp_path / "c.toml", stack, influx_db, tmp_path / "st", unique_id)
    env = {**os.environ, "QUANTRAC_MQTT_URL": f"mqtt://{userinfo}127.0.0.1:{password_broker.port}"}
    done = subprocess.run(
        [sys.executable, "-m", "quantrac.cli", "collect", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert "Not authorized" in lines[-1] or "Bad user name or password" in lines[-1], lines
    assert lines[-1].startswith("quantrac: MQTT broker 127.0.0.1:")
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


def test_failed_connect_never_logs_the_password(password_broker, caplog):
    caplog.set_level(logging.DEBUG)
    settings = MqttSettings(url=f"mqtt://quantrac:x{PASSWORD}@127.0.0.1:{password_broker.port}",
                            client_id="sec-logcheck")
    connection = MqttConnection(settings, ["quantrac/v1/+/+/+/data"], lambda m: None)
    connection._client.enable_logger(logging.getLogger("paho"))  # paho's own debug log too
    with pytest.raises(CollectorError) as info:
        connection.start(timeout=5)
    assert "refused" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert caplog.records, "the test must have captured something"
    assert PASSWORD not in caplog.text


def test_config_errors_never_echo_the_password():
    with pytest.raises(ConfigError) as info:
        parse_config({}, env={"QUANTRAC_MQTT_URL": f"mqtt://quantrac:{PASSWORD}@host:99x"})
    assert "mqtt.url" in str(info.value)
    assert PASSWORD not in str(info.value)


# -- TLS -----------------------------------------------------------------------------------
def _make_ca_and_server_cert(where: Path) -> dict[str, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed")
    where.mkdir(parents=True, exist_ok=True)
    files = {name: where / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}
    csr, ext = where / "server.csr", where / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *ec, "-keyout", str(files["ca-key"]), "-out", str(files["ca"]),
        "-days", "2", "-subj", "/CN=quantrac test CA")
    run("req", *ec, "-keyout", str(files["server-key"]), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey",
        str(files["ca-key"]), "-CAcreateserial", "-out", str(files["server"]), "-days", "2",
        "-extfile", str(ext))
    return files


@pytest.fixture
def tls_broker(tmp_path):
    pki = _make_ca_and_server_cert(tmp_path / "pki")
    broker = PrivateBroker(tmp_path / "tls-broker", [
        "allow_anonymous true",
        f"cafile {pki['ca']}", f"certfile {pki['server']}", f"keyfile {pki['server-key']}",
    ])
    yield broker, pki
    broker.close()


def test_tls_with_a_private_ca(tls_broker, stack, influx_db, tmp_path, unique_id):
    broker, pki = tls_broker
    config = parse_config(collector_config(stack, influx_db, tmp_path / "st", unique_id))
    mqtt = MqttSettings(url=f"mqtts://127.0.0.1:{broker.port}", ca_file=pki["ca"],
                        client_id=f"tls-{unique_id}")
    collector = Collector(mqtt, config.influx, config.state, config.plants, config.checks,
                          config.alerts)
    collector.start()
    try:
        with StationPublisher(mqtt.model_copy(update={"client_id": f"st-{unique_id}"})) as pub:
            for record in records(3, T0):
                pub.publish(f"quantrac/v1/{unique_id}/{unique_id}/outlet/data",
                            encode_message([record]))
        assert wait_for(lambda: collector.store.count(unique_id) == 3, timeout=15)
    finally:
        collector.stop()


def test_tls_refuses_a_broker_it_cannot_verify(tls_broker):
    broker, _ = tls_broker
    # No CA given: the system store does not know our private CA, so the handshake fails.
    settings = MqttSettings(url=f"mqtts://127.0.0.1:{broker.port}", client_id="tls-untrusted")
    connection = MqttConnection(settings, ["quantrac/v1/+/+/+/data"], lambda m: None)
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(connection, errors))
    thread.start()
    thread.join(15)
    assert errors and isinstance(errors[0], CollectorError)
    assert "certificate verify failed" in str(errors[0]).lower()


def _capture(connection: MqttConnection, errors: list[BaseException]) -> None:
    try:
        connection.start(timeout=5)
    except CollectorError as exc:
        errors.append(exc)
    else:
        connection.stop()


def test_plaintext_client_cannot_talk_to_the_tls_listener(tls_broker):
    broker, _ = tls_broker
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{broker.port}", client_id="tls-plain")
    connection = MqttConnection(settings, ["quantrac/v1/+/+/+/data"], lambda m: None)
    with pytest.raises(CollectorError):
        connection.start(timeout=1.5)
