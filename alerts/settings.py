"""The `[alerts]` config section: timing, hysteresis, maintenance, channels and routes.

Every field has a default, so an empty `[alerts]` section (or none) gives a working book that
prints alerts on the terminal and publishes them over MQTT when the collector supplies a
publisher.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from rules.findings import KINDS, SEVERITIES
from rules.topics import PREFIX
from rules.vocabulary import Lang

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EVENTS = ("fired", "upgraded", "renotify", "escalated", "resolved", "acknowledged")


def parse_span(text: str) -> timedelta:
    """`"0s"`, `"30s"`, `"5m"`, `"1h"`, `"2d"` → timedelta (zero allowed, unlike intervals)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad duration {text!r} (use e.g. 0s, 30s, 5m, 1h, 2d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def severity_rank(severity: str) -> int:
    """Position of a severity in `rules.findings.SEVERITIES` (info=0 … critical=4)."""
    return SEVERITIES.index(severity)


def _check_span(value: str) -> str:
    parse_span(value)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ChannelBase(_Model):
    lang: Lang | None = None
    # Which lifecycle events this channel receives; None = the type's default (see docs).
    events: list[Literal[EVENTS]] | None = None  # type: ignore[valid-type]
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class EmailChannelSettings(_ChannelBase):
    """SMTP: plain, STARTTLS (`starttls = true`) or implicit TLS (`ssl = true`); auth optional."""

    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)


class WebhookChannelSettings(_ChannelBase):
    """JSON POST; `preset` shapes the body, `body` (a Jinja2 template) overrides it."""

    type: Literal["webhook"]
    url: str | None = Field(default=None, pattern=r"^https?://")
    url_env: str | None = None  # read the URL (it often holds a token) from this variable
    preset: Literal["generic", "slack", "teams", "telegram"] = "generic"
    body: str | None = None
    chat_id: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _telegram_chat(self) -> WebhookChannelSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of url and url_env")
        if self.preset == "telegram" and not self.chat_id and self.body is None:
            raise ValueError("preset 'telegram' needs chat_id")
        return self


class MqttChannelSettings(_ChannelBase):
    """Alert events to `<prefix>/<cluster>/<plant>/alerts`, retained state to `.../state`."""

    type: Literal["mqtt"]
    prefix: str = PREFIX
    qos: int = Field(default=1, ge=0, le=2)
    retain_state: bool = True


class TerminalChannelSettings(_ChannelBase):
    """One line per notification on stdout, stderr or the log."""

    type: Literal["terminal"]
    stream: Literal["stdout", "stderr", "log"] = "stdout"


ChannelSettings = Annotated[
    EmailChannelSettings | WebhookChannelSettings | MqttChannelSettings | TerminalChannelSettings,
    Field(discriminator="type"),
]


class RouteSettings(_Model):
    """Which alerts go where. Empty match lists match everything."""

    plants: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(
        default_factory=list, description="cluster ids: the alerts of their plants and "
        "factories and their collection findings (filed under the central plant, or the "
        "cluster id when it has no central WWTP)")
    stations: list[str] = Field(default_factory=list)
    kinds: list[Literal[KINDS]] = Field(default_factory=list)  # type: ignore[valid-type]
    min_severity: Literal[SEVERITIES] = "info"  # type: ignore[valid-type]
    channels: list[str] = Field(min_length=1)
    failover: str | None = None
    escalate_to: str | None = None
    # A route used only as an escalation target is not matched by ordinary notifications.
    escalation_only: bool = False
    lang: Lang | None = None


class MaintenanceWindow(_Model):
    """Planned work: alerts for the matching keys are recorded but not notified."""

    plant: str
    station: str | None = None
    parameters: list[str] = Field(default_factory=list)
    start: datetime
    end: datetime
    reason: str

    @model_validator(mode="after")
    def _aware(self) -> MaintenanceWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("maintenance start/end need a UTC offset, e.g. 2026-11-25T08:00+07:00")
        if self.end <= self.start:
            raise ValueError("maintenance end must be after start")
        return self

    def covers(self, plant: str, station: str, parameter: str, now: datetime) -> bool:
        return (
            self.plant == plant
            and (self.station is None or self.station == station)
            and (not self.parameters or parameter in self.parameters)
            and self.start <= now < self.end
        )


class OutboxSettings(_Model):
    """Delivery retries: exponential backoff with jitter, failover, give-up."""

    backoff_base_s: float = Field(default=2.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    failover_after: int = Field(default=3, ge=1)
    max_attempts: int = Field(default=10, ge=1)
    # A notification found "sending" after a crash may or may not have left: skip = at most once
    # (the renotify loop repeats firing alerts), resend = at least once.
    interrupted: Literal["skip", "resend"] = "skip"


class TemplateOverride(_Model):
    """Jinja2 templates replacing the shipped subject/body for one language."""

    subject: str | None = None
    body: str | None = None


def _default_channels() -> dict[str, ChannelSettings]:
    return {
        "terminal": TerminalChannelSettings(type="terminal"),
        "mqtt": MqttChannelSettings(type="mqtt"),
    }


class AlertSettings(_Model):
    """The `[alerts]` section."""

    lang: Lang = "vi"
    # Instantaneous findings must persist this long before they fire (windowed means already
    # span a duration and fire at once); kinds not listed fire at once.
    min_duration: dict[str, str] = Field(
        default_factory=lambda: {"exceedance": "5m", "below_minimum": "5m", "sensor_fault": "5m"}
    )
    fire_at_once_severity: Literal[SEVERITIES] = "major"  # type: ignore[valid-type]
    clear_fraction: float = Field(default=0.95, gt=0, le=1)
    flap_max_per_hour: int = Field(default=3, ge=1)
    flap_hold: str = "15m"
    renotify_interval: str = "1h"
    escalation_after: str = "30m"
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    channels: dict[str, ChannelSettings] = Field(default_factory=_default_channels)
    # No routes = one route "default" sending everything to every channel.
    routes: dict[str, RouteSettings] = Field(default_factory=dict)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    templates: dict[Lang, TemplateOverride] = Field(default_factory=dict)

    @field_validator("flap_hold", "renotify_interval", "escalation_after")
    @classmethod
    def _span(cls, value: str) -> str:
        return _check_span(value)

    @field_validator("min_duration")
    @classmethod
    def _min_durations(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, span in value.items():
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
            _check_span(span)
        return value

    @model_validator(mode="after")
    def _references(self) -> AlertSettings:
        for name, route in self.routes.items():
            for channel in [*route.channels, *([route.failover] if route.failover else [])]:
                if channel not in self.channels:
                    raise ValueError(f"routes.{name}: unknown channel {channel!r}")
            if route.escalate_to is not None and route.escalate_to not in self.routes:
                raise ValueError(f"routes.{name}.escalate_to: unknown route {route.escalate_to!r}")
        return self

    @property
    def effective_routes(self) -> dict[str, RouteSettings]:
        """The configured routes, or one catch-all route to every channel when none are."""
        if self.routes or not self.channels:
            return self.routes
        return {"default": RouteSettings(channels=list(self.channels))}

    def min_duration_for(self, kind: str) -> timedelta:
        return parse_span(self.min_duration.get(kind, "0s"))

    @property
    def renotify_delta(self) -> timedelta:
        return parse_span(self.renotify_interval)

    @property
    def escalation_delta(self) -> timedelta:
        return parse_span(self.escalation_after)

    @property
    def flap_hold_delta(self) -> timedelta:
        return parse_span(self.flap_hold)

    def maintenance_reason(
        self, plant: str, station: str, parameter: str, now: datetime
    ) -> str | None:
        """The reason of the first maintenance window covering this key at `now`, else None."""
        for window in self.maintenance:
            if window.covers(plant, station, parameter, now):
                return window.reason
        return None
