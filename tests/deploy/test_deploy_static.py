"""Static checks of the deployment files (deploy/): what can be proved without running them.

Docker is NOT available here (no daemon, no compose plugin), so compose.yaml, the Dockerfile
and the Grafana files are only parsed and checked, never built or started; their Flux queries
are checked for the SPEC schema names, not executed (no Flux engine here either). The systemd
unit is checked by parsing and, where the tool exists, by `systemd-analyze verify`. The
broker's security is proved for real, on the Mosquitto binary, in test_mosquitto.py.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from quantrac.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FIVE_YEARS_DAYS = 5 * 365 + 1  # with at least one leap day


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def conf_lines(path: Path) -> dict[str, list[str]]:
    """Mosquitto config: option -> values, comments and blank lines dropped."""
    options: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            options.setdefault(key, []).append(value.strip())
    return options


# --- compose.yaml ------------------------------------------------------------------------


def test_compose_has_the_five_services_with_pinned_major_versions() -> None:
    services = compose()["services"]
    assert set(services) == {"mosquitto", "influxdb", "collector", "console", "grafana"}
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["influxdb"]["image"] == "influxdb:2.7"
    assert services["grafana"]["image"].startswith("grafana/grafana-oss:11.")
    assert services["collector"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name


def retention_days(text: str) -> float:
    match = re.fullmatch(r"(\d+)([hdw])", text)
    assert match, f"unexpected retention {text!r}"
    return int(match.group(1)) * {"h": 1 / 24, "d": 1, "w": 7}[match.group(2)]


def test_influxdb_first_time_setup_keeps_five_years_and_takes_secrets_from_env() -> None:
    env = compose()["services"]["influxdb"]["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == "quantrac"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "quantrac"
    assert retention_days(env["DOCKER_INFLUXDB_INIT_RETENTION"]) >= FIVE_YEARS_DAYS
    for key in ("DOCKER_INFLUXDB_INIT_ADMIN_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD"):
        # `${VAR:?msg}`: compose refuses to start when the env file lacks the secret
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", env[key]), key


def test_no_secret_is_written_into_the_compose_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for service in compose()["services"].values():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert str(value).startswith("${"), key
    mqtt_url = compose()["services"]["collector"]["environment"]["QUANTRAC_MQTT_URL"]
    assert re.fullmatch(
        r"mqtt://quantrac-collector:\$\{MQTT_COLLECTOR_PASSWORD:\?[^}]+\}"
        r"@mosquitto:1883",
        mqtt_url,
    )
    example = (DEPLOY / "env.example").read_text()
    referenced = set(re.findall(r"\$\{([A-Z_]+)", text))
    for name in referenced:
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from env.example"
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


def test_collector_service_healthcheck_state_volume_and_sandbox() -> None:
    services = compose()["services"]
    collector = services["collector"]
    probe = " ".join(collector["healthcheck"]["test"])
    assert "http://127.0.0.1:9108/healthz" in probe
    assert collector["environment"]["QUANTRAC_INFLUX_URL"] == "http://influxdb:8086"
    assert "collector-state:/var/lib/quantrac" in collector["volumes"]
    assert collector["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert collector["read_only"] is True and collector["cap_drop"] == ["ALL"]
    assert services["influxdb"]["healthcheck"]["test"] == ["CMD", "influx", "ping"]
    # everything but the broker's TLS port stays on the host's loopback
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:") or port.endswith(":8883"), port
    assert set(compose()["volumes"]) >= {"mosquitto-data", "influxdb-data", "collector-state"}


def test_console_service_shares_the_state_and_is_sandboxed() -> None:
    services = compose()["services"]
    console, collector = services["console"], services["collector"]
    assert console["image"] == collector["image"]  # one image, built by the collector
    assert console["command"] == ["web", "--config", "/etc/quantrac/quantrac.toml"]
    assert console["environment"]["QUANTRAC_WEB_LISTEN"] == "0.0.0.0:8080"
    assert console["ports"] == ["127.0.0.1:8080:8080"]
    assert "collector-state:/var/lib/quantrac" in console["volumes"]  # the same alert book
    assert "http://127.0.0.1:8080/healthz" in " ".join(console["healthcheck"]["test"])
    assert console["read_only"] is True and console["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in console["security_opt"]


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.endswith("/passwd"):
                assert (DEPLOY / source).exists(), f"{name}: {source}"


def test_compose_collector_config_validates_and_matches_the_sample_tree() -> None:
    compose_cfg = load_config(DEPLOY / "compose" / "quantrac.toml", env={})
    host_cfg = load_config(DEPLOY / "etc" / "quantrac" / "quantrac.toml", env={})
    for cfg in (compose_cfg, host_cfg):
        assert cfg.influx.api == "v2" and cfg.influx.org and cfg.influx.bucket
        assert cfg.service.http_port == 9108
        assert str(cfg.state.dir) == "/var/lib/quantrac"
    assert compose_cfg.plants == host_cfg.plants
    kim_bai = host_cfg.plant("kim-bai")
    assert (kim_bai.design_flow_m3_day, kim_bai.column, kim_bai.kq) == (1500, "B", 0.9)
    assert set(kim_bai.stations) == {"inlet", "outlet", "bypass"}


def test_env_file_sample_holds_only_placeholders() -> None:
    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / "etc" / "quantrac" / "quantrac.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(values) == {"QUANTRAC_MQTT_URL", "QUANTRAC_INFLUX_TOKEN"}
    assert "CHANGE-ME" in values["QUANTRAC_MQTT_URL"]
    assert values["QUANTRAC_INFLUX_TOKEN"] == "CHANGE-ME"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_base_non_root_user_and_healthcheck() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert last_user > max(i for i, (word, _) in enumerate(steps) if word == "RUN")
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "http://127.0.0.1:9108/healthz" in health and "CMD" in health
    assert ("ENTRYPOINT", '["quantrac"]') in steps
    copied = {rest.split()[0] for word, rest in steps if word == "COPY"}
    for package in ("quantrac", "collector", "rules", "alerts", "reports", "console"):
        assert package in copied and (ROOT / package).is_dir()


# --- Mosquitto ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mosquitto.conf", "local.conf"])
def test_mosquitto_configs_are_tuned_and_closed(name: str) -> None:
    options = conf_lines(DEPLOY / "mosquitto" / name)
    assert options["allow_anonymous"] == ["false"]
    assert options["persistence"] == ["true"]
    assert options["set_tcp_nodelay"] == ["true"]
    (queued,) = options["max_queued_messages"]
    assert int(queued) >= 100_000  # the default, 1000, drops data for an offline collector
    assert options["password_file"] and options["acl_file"]
    assert int(options["max_packet_size"][0]) > 256 * 1024  # SPEC payloads fit


def test_local_conf_does_not_repeat_debians_string_options() -> None:
    """Debian's main config sets these; Mosquitto refuses a second value for them."""
    options = conf_lines(DEPLOY / "mosquitto" / "local.conf")
    for key in ("persistence_location", "pid_file", "log_dest", "include_dir"):
        assert key not in options


def test_shipped_acl_is_what_make_acl_generates_from_the_sample_config(tmp_path: Path) -> None:
    """Run as on a broker host: no virtualenv packages (-S -I) and from another directory, so
    only the standard library and the clone's rules/topics.py are there to import."""
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            str(DEPLOY / "mosquitto" / "make-acl.py"),
            str(DEPLOY / "etc" / "quantrac" / "quantrac.toml"),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.stdout == (DEPLOY / "mosquitto" / "aclfile").read_text()


def acl_blocks() -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    current = None
    for line in (DEPLOY / "mosquitto" / "aclfile").read_text().splitlines():
        if line.startswith("user "):
            current = line[5:]
            blocks[current] = []
        elif line.startswith(("topic ", "pattern ")):
            assert current is not None, "no grant may apply to anonymous clients"
            blocks[current].append(line)
    return blocks


def test_acl_grants_each_station_write_only_to_its_own_data_topic() -> None:
    blocks = acl_blocks()
    plant = load_config(DEPLOY / "etc" / "quantrac" / "quantrac.toml", env={}).plant("kim-bai")
    for station in plant.stations:
        login = f"{plant.cluster}.{plant.id}.{station}"
        assert blocks[login] == [
            f"topic write quantrac/v1/{plant.cluster}/{plant.id}/{station}/data"
        ]
    assert blocks["quantrac-collector"] == [
        "topic read quantrac/v1/+/+/+/data",
        "topic read quantrac/v1/+/+/alerts/ack",
        "topic write quantrac/v1/+/+/alerts",
        "topic write quantrac/v1/+/+/state",
    ]
    assert blocks["quantrac-operator"] == [
        "topic read quantrac/v1/+/+/alerts",
        "topic read quantrac/v1/+/+/state",
        "topic write quantrac/v1/+/+/alerts/ack",
    ]
    assert not any(line.startswith("pattern") for lines in blocks.values() for line in lines)


def test_make_acl_rejects_bad_ids_and_duplicates(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[plants]]\nid = "Kim Bai"\ncluster = "x"\n[plants.stations]\na = []\n')
    script = str(DEPLOY / "mosquitto" / "make-acl.py")
    result = subprocess.run([sys.executable, script, str(bad)], capture_output=True, text=True)
    assert result.returncode == 2 and "bad id 'Kim Bai'" in result.stderr
    good = DEPLOY / "etc" / "quantrac" / "quantrac.toml"
    result = subprocess.run(
        [sys.executable, script, str(good), str(good)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "listed twice" in result.stderr


# --- Grafana --------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "kim-bai.json").read_text())


def test_datasource_is_flux_with_token_from_env() -> None:
    doc = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "influxdb.yaml").read_text()
    )
    (source,) = doc["datasources"]
    assert source["type"] == "influxdb" and source["jsonData"]["version"] == "Flux"
    assert source["jsonData"]["organization"] == "quantrac"
    assert source["jsonData"]["defaultBucket"] == "quantrac"
    assert source["secureJsonData"]["token"] == "${GRAFANA_INFLUX_TOKEN}"
    assert "GRAFANA_INFLUX_TOKEN" in compose()["services"]["grafana"]["environment"]
    uids = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    assert uids == {source["uid"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "quantrac.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_queries_use_the_spec_schema() -> None:
    panels = dashboard()["panels"]
    queries = [target["query"] for panel in panels for target in panel["targets"]]
    assert all("from(bucket: v.defaultBucket)" in q for q in queries)
    reading = [q for q in queries if 'r._measurement == "reading"' in q]
    alert = [q for q in queries if 'r._measurement == "alert"' in q]
    assert reading and alert and len(reading) + len(alert) == len(queries)
    assert all('r.plant == "kim-bai"' in q for q in queries)
    for q in queries:
        assert q.count("(") == q.count(")") and q.count("{") == q.count("}")
    plant = load_config(DEPLOY / "etc" / "quantrac" / "quantrac.toml", env={}).plant("kim-bai")
    fields = set(re.findall(r'r\._field == "([a-z0-9_]+)"', "\n".join(queries)))
    monitored = {key for keys in plant.stations.values() for key in keys}
    assert fields == monitored  # every parameter and flow is shown, nothing else


def test_dashboard_has_limit_lines_treatment_alerts_and_completeness() -> None:
    panels = {panel["title"]: panel for panel in dashboard()["panels"]}
    # QCVN 40:2011 column B, Kq 0.9, Kf 1.0: REGULATIONS.md's Kim Bai worked example
    expected = {
        "cod": [135.0],
        "tss": [90.0],
        "nh4_n": [9.0],
        "temperature": [40.0],
        "ph": [5.5, 9.0],
    }
    for key, lines in expected.items():
        (panel,) = [p for t, p in panels.items() if t.startswith(f"outlet: {key} ")]
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["custom"]["thresholdsStyle"]["mode"].startswith("line")
        values = [s["value"] for s in defaults["thresholds"]["steps"] if s["value"] is not None]
        assert values == lines, key
    assert "join(" in panels["Treated ratio (daily outflow ÷ inflow)"]["targets"][0]["query"]
    assert panels["Open alerts"]["type"] == "stat"
    assert 'r.state != "resolved"' in panels["Open alerts: detail"]["targets"][0]["query"]
    completeness = panels["Data completeness (% of expected readings per hour)"]
    assert "/ 12.0 * 100.0" in completeness["targets"][0]["query"]  # 5 min interval
    ids = [p["id"] for p in panels.values()]
    assert len(ids) == len(set(ids))


def test_shipped_dashboard_is_what_the_generator_writes(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "grafana" / "make-dashboards.py"),
            str(DEPLOY / "compose" / "quantrac.toml"),
            "--out",
            str(tmp_path),
            "--on",
            "2026-11-25T00:00:00+07:00",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == str(tmp_path / "kim-bai.json")
    assert json.loads((tmp_path / "kim-bai.json").read_text()) == dashboard(), (
        "regenerate: .venv/bin/python deploy/grafana/make-dashboards.py "
        "deploy/compose/quantrac.toml --on 2026-11-25T00:00:00+07:00"
    )


# --- systemd --------------------------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "quantrac-collector.service"
WEB_UNIT = DEPLOY / "systemd" / "quantrac-web.service"


def unit(path: Path = UNIT) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_systemd_unit_restarts_and_is_sandboxed() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "quantrac" and service["EnvironmentFile"] == (
        "/etc/quantrac/quantrac.env"
    )
    assert "quantrac collect --config /etc/quantrac/quantrac.toml" in service["ExecStart"]
    hardening = {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/quantrac",
        "PrivateTmp": "true",
        "ProtectHome": "true",
        "PrivateDevices": "true",
        "RestrictSUIDSGID": "true",
        "CapabilityBoundingSet": "",
    }
    for key, value in hardening.items():
        assert service[key] == value, key
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_console_unit_runs_quantrac_web_with_the_same_sandbox() -> None:
    web, collector = unit(WEB_UNIT)["Service"], unit()["Service"]
    assert web["ExecStart"] == (
        "/opt/quantrac/.venv/bin/quantrac web --config /etc/quantrac/quantrac.toml")
    assert web["User"] == collector["User"] == "quantrac"
    assert web["StateDirectory"] == collector["StateDirectory"]  # the same alert book
    assert web["Restart"] == "on-failure" and web["KillSignal"] == "SIGTERM"
    for key in ("NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "PrivateTmp",
                "ProtectHome", "PrivateDevices", "RestrictSUIDSGID", "CapabilityBoundingSet",
                "SystemCallFilter", "RestrictAddressFamilies"):
        assert web[key] == collector[key], key
    assert "quantrac-collector.service" in unit(WEB_UNIT)["Unit"]["After"]
    assert unit(WEB_UNIT)["Install"]["WantedBy"] == "multi-user.target"
    sample = load_config(DEPLOY / "etc" / "quantrac" / "quantrac.toml", env={})
    assert sample.web.listen == "127.0.0.1:8080" and sample.web.secure_cookies


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("path", [UNIT, WEB_UNIT], ids=lambda p: p.name)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, path: Path) -> None:
    """Real systemd parser: unknown keys or misplaced options are reported on stderr."""
    fake = tmp_path / "quantrac"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace("/opt/quantrac/.venv/bin/quantrac", str(fake)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


# --- the health probe itself ----------------------------------------------------------------


def probes() -> list[list[str]]:
    """The HEALTHCHECK command of the Dockerfile and of compose.yaml's collector service."""
    (health,) = [rest for word, rest in dockerfile() if word == "HEALTHCHECK"]
    image_probe = json.loads(health[health.index("CMD") + 3 :].strip())
    compose_probe = compose()["services"]["collector"]["healthcheck"]["test"][1:]
    return [image_probe, compose_probe]


@pytest.mark.parametrize("status", [200, 503, None])
def test_health_probe_exit_code_follows_healthz(status: int | None) -> None:
    """Runs the probe one-liners for real (with this Python) against a local /healthz."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" and status else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # nothing listens: connection refused
    else:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        for probe in probes():
            assert probe[0] == "python"
            argv = [sys.executable, *[arg.replace("9108", str(port)) for arg in probe[1:]]]
            result = subprocess.run(argv, capture_output=True, timeout=30)
            assert (result.returncode == 0) is (status == 200), result.stderr
    finally:
        if status is not None:
            server.shutdown()
            server.server_close()
