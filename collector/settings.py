"""Config sections the collector owns: `[mqtt]`, `[influx]`, `[state]` (SPEC fixed core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class MqttSettings(BaseModel):
    """Broker connection. `url` is `mqtt://[user:pass@]host:port` (`mqtts://` for TLS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="mqtt://127.0.0.1:1883",
                     description="broker URL; mqtts:// for TLS; user:pass@ allowed")
    username: str | None = Field(default=None, description="overrides the URL's user")
    password: SecretStr | None = Field(
        default=None, description="prefer QUANTRAC_MQTT_URL from the environment"
    )
    client_id: str = Field(
        default="quantrac-collector",
        description="fixed id of the persistent session: one per collector instance",
    )
    tls: bool = Field(default=False, description="TLS even with an mqtt:// URL")
    ca_file: Path | None = Field(default=None, description="CA bundle for the broker's cert")
    cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="client key (mutual TLS)")
    keepalive: int = Field(default=30, ge=5, le=3600, description="seconds")
    # "$share/<group>/" prefix for scale-out over MQTT 5 shared subscriptions; empty = none.
    share_group: str = Field(
        default="", description="MQTT 5 shared-subscription group for scale-out ('' = none)"
    )
    session_expiry_s: int = Field(
        default=7 * 86400, ge=0,
        description="how long the broker keeps our session (and queued QoS 1 messages) offline",
    )

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: Any) -> Any:
        """Move a password in `url` into `password` (a SecretStr): no repr or log shows it."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        userinfo, at, hostport = urlsplit(data["url"]).netloc.rpartition("@")
        if not at or ":" not in userinfo:
            return data
        user, _, password = userinfo.partition(":")
        parts = urlsplit(data["url"])
        cleaned = {**data, "url": parts._replace(netloc=f"{user}@{hostport}").geturl()}
        if cleaned.get("password") is None:  # an explicit field wins
            cleaned["password"] = unquote(password)
        return cleaned

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"expected mqtt://host:port, got {_redact(value)!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {_redact(value)!r}") from exc
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

    api: Literal["v1", "v2"] = Field(
        default="v1", description="v1 HTTP API (InfluxDB 1.x, 2.x/3.x compat) or v2"
    )
    url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB base URL")
    database: str = Field(default="quantrac", description="v1 database")
    username: str | None = Field(default=None, description="v1 user (optional)")
    password: SecretStr | None = Field(default=None, description="v1 password (optional)")
    org: str | None = Field(default=None, description="v2 organisation")
    bucket: str | None = Field(default=None, description="v2 bucket")
    token: SecretStr | None = Field(
        default=None, description="v2 token; prefer QUANTRAC_INFLUX_TOKEN or token_file"
    )
    token_file: Path | None = Field(default=None, description="file holding the v2 token")
    timeout_s: float = Field(default=10.0, gt=0, description="per-request timeout")
    batch_size: int = Field(default=5000, ge=1, description="v2: lines per write request")

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

    dir: Path = Field(
        default=Path(".quantrac"),
        description="spool, dead letters, alert book, watermarks (created 0700)",
    )
    spool_max_mb: int = Field(
        default=1024, ge=1,
        description="spool size limit; an alarm fires at 80 %, then messages stay unacked",
    )


def _redact(url: str) -> str:
    """The URL with its password replaced, for error messages (secrets are never echoed)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
