"""The config file: TOML → one frozen pydantic model composed of each package's section.

Validated once at start, before any network call. Environment overrides (SPEC) win over the
file. A bad file raises `ConfigError` naming the field path, which the CLI turns into exit 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from alerts.settings import AlertSettings
from collector.settings import InfluxSettings, MqttSettings, StateSettings
from console.settings import WebSettings
from reports.settings import ReportSettings
from rules.cluster import Cluster, ClusterLayout, cluster_layouts, reference_problems
from rules.permit import Plant, field_error
from rules.settings import CheckSettings


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the field."""


class ServiceSettings(BaseModel):
    """The collector process: health/metrics endpoint, logs, intake batching."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http_port: int = Field(default=9108, ge=0, le=65535,
                           description="/healthz and /metrics port; 0 disables them")
    http_host: str = Field(default="127.0.0.1", description="address /healthz listens on")
    log_json: bool = Field(default=False, description="one JSON object per log line")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    batch_size: int = Field(
        default=40000, ge=1,
        description="max records per intake batch (a large one goes to InfluxDB as two "
                    "requests at once)")
    flush_interval_ms: int = Field(
        default=50, ge=1, description="max wait to fill a batch (adds to alert latency)"
    )
    instance: int = Field(default=0, ge=0, description="this collector's number, 0-based "
                          "(scale-out: owns the plants whose id hashes to it)")
    instances: int = Field(default=1, ge=1, description="collectors sharing the plants; "
                           "more than 1 needs [mqtt] share_group")

    @model_validator(mode="after")
    def _instance_in_range(self) -> ServiceSettings:
        if self.instance >= self.instances:
            raise ValueError(f"instance {self.instance} is not below instances {self.instances}")
        return self


class Config(BaseModel):
    """The whole file. Unknown keys are rejected everywhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    state: StateSettings = StateSettings()
    service: ServiceSettings = ServiceSettings()
    plants: list[Plant] = Field(default_factory=list)
    clusters: list[Cluster] = Field(default_factory=list)
    checks: CheckSettings = CheckSettings()
    alerts: AlertSettings = AlertSettings()
    reports: ReportSettings = ReportSettings()
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _references(self) -> Config:
        problems = reference_problems(self.clusters, self.plants)
        if problems:
            raise field_error(problems[0].path, problems[0].message)
        return self

    def layouts(self) -> tuple[ClusterLayout, ...]:
        """Every cluster with its central plant and members (one per plant-only cluster id)."""
        return cluster_layouts(self.clusters, self.plants)

    def plant(self, plant_id: str) -> Plant:
        for plant in self.plants:
            if plant.id == plant_id:
                return plant
        known = ", ".join(p.id for p in self.plants) or "none"
        raise ConfigError(f"plant {plant_id!r} is not in the config (known: {known})")


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, validate."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(raw, source=str(path), env=os.environ if env is None else env)


def parse_config(
    raw: dict[str, Any], source: str = "config", env: Mapping[str, str] | None = None
) -> Config:
    """Validate an already parsed document (the demo builds its config in memory)."""
    merged = apply_env_overrides(raw, env or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where, message = _where(first)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {where}: {message}{more}") from exc


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """SPEC's QUANTRAC_* variables win over the file; secrets never come back in errors."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    mqtt = merged.setdefault("mqtt", {})
    influx = merged.setdefault("influx", {})
    state = merged.setdefault("state", {})
    if not all(isinstance(s, dict) for s in (mqtt, influx, state)):
        return merged  # let validation name the bad section
    if url := env.get("QUANTRAC_MQTT_URL"):
        parts = urlsplit(url)
        mqtt["url"] = url
        if parts.username:
            mqtt["username"] = unquote(parts.username)
        if parts.password:
            mqtt["password"] = unquote(parts.password)
    if url := env.get("QUANTRAC_INFLUX_URL"):
        influx["url"] = url
    if db := env.get("QUANTRAC_INFLUX_DB"):
        influx["database"] = db
        influx.setdefault("bucket", db)
    if token := env.get("QUANTRAC_INFLUX_TOKEN"):
        influx["token"] = token
    if state_dir := env.get("QUANTRAC_STATE_DIR"):
        state["dir"] = state_dir
    if (listen := env.get("QUANTRAC_WEB_LISTEN")) and isinstance(merged.get("web", {}), dict):
        merged["web"] = {**merged.get("web", {}), "listen": listen}
    return merged


def _where(error: ErrorDetails) -> tuple[str, str]:
    """(field path, message); a `rules.permit.field_error` carries a path below its model."""
    ctx = error.get("ctx") or {}
    if error["type"] == "config_field" and "field" in ctx:
        inner = str(ctx["field"])
        outer = _field_path(error["loc"]) if error["loc"] else ""
        joined = inner if not outer else f"{outer}{inner}" if inner.startswith("[") \
            else f"{outer}.{inner}"
        return joined, str(ctx["message"])
    return _field_path(error["loc"]), error["msg"]


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"
