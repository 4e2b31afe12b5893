"""Config sections the collector owns: `[mqtt]`, `[influx]`, `[state]` (SPEC fixed core)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class MqttSettings(BaseModel):
    """Broker connection. `url` is `mqtt://[user:pass@]host:port` (`mqtts://` for TLS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "quantrac-collector"
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    # "$share/<group>/" prefix for scale-out over MQTT 5 shared subscriptions; empty = none.
    share_group: str = ""
    session_expiry_s: int = Field(default=7 * 86400, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"expected mqtt://host:port, got {value!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if self.use_tls else 1883)

    @property
    def use_tls(self) -> bool:
        return self.tls or urlsplit(self.url).scheme in ("mqtts", "ssl")

    @property
    def credentials(self) -> tuple[str, str | None] | None:
        """(user, password) from the explicit fields, else from the URL."""
        parts = urlsplit(self.url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        if not user:
            return None
        if self.password is not None:
            return user, self.password.get_secret_value()
        return user, unquote(parts.password) if parts.password else None


class InfluxSettings(BaseModel):
    """Time-series store. v1: `database` (+ optional user/password); v2: org, bucket, token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api: Literal["v1", "v2"] = "v1"
    url: str = "http://127.0.0.1:8086"
    database: str = "quantrac"
    username: str | None = None
    password: SecretStr | None = None
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=5000, ge=1)
    flush_interval_ms: int = Field(default=100, ge=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host:port, got {value!r}")
        return value.rstrip("/")


class StateSettings(BaseModel):
    """Where the service keeps what it must not lose (spool, dead letters, alert book)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: Path = Path(".quantrac")
    spool_max_mb: int = Field(default=1024, ge=1)
