"""The `[alerts]` section: defaults, references, and the documented sample."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerts.settings import AlertSettings, parse_span

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def test_empty_section_works() -> None:
    settings = AlertSettings.model_validate({})
    assert settings.lang == "vi"
    assert set(settings.channels) == {"terminal", "mqtt"}
    assert settings.effective_routes["default"].channels == ["terminal", "mqtt"]
    assert settings.renotify_delta == timedelta(hours=1)
    assert settings.min_duration_for("exceedance") == timedelta(minutes=5)
    assert settings.min_duration_for("bypass") == timedelta(0)


def test_documented_sample_is_valid() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)
    assert blocks, "docs/alerts.md lost its sample config"
    config = tomllib.loads(blocks[-1])["alerts"]
    settings = AlertSettings.model_validate(config)
    assert {c.type for c in settings.channels.values()} == {"email", "webhook", "mqtt", "terminal"}
    assert settings.routes["operators"].escalate_to == "managers"
    assert settings.maintenance[0].reason == "hiệu chuẩn máy đo COD"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"routes": {"r": {"channels": ["nope"]}}}, "unknown channel 'nope'"),
        ({"routes": {"r": {"channels": ["terminal"], "failover": "x"}}}, "unknown channel 'x'"),
        ({"routes": {"r": {"channels": ["terminal"], "escalate_to": "y"}}}, "unknown route 'y'"),
        ({"renotify_interval": "soon"}, "bad duration"),
        ({"min_duration": {"exceedence": "5m"}}, "unknown kind"),
        ({"lang": "fr"}, "lang"),
        ({"colour": "red"}, "colour"),
        ({"channels": {"x": {"type": "pager"}}}, "pager"),
        ({"channels": {"x": {"type": "email", "host": "h", "sender": "s", "to": []}}}, "to"),
        (
            {
                "maintenance": [
                    {
                        "plant": "p",
                        "start": "2026-01-01T08:00:00",
                        "end": "2026-01-01T09:00:00",
                        "reason": "r",
                    }
                ]
            },
            "UTC offset",
        ),
    ],
)
def test_bad_config_names_the_problem(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertSettings.model_validate(config)


@pytest.mark.parametrize(("text", "seconds"), [("0s", 0), ("30s", 30), ("5m", 300), ("2d", 172800)])
def test_parse_span(text: str, seconds: int) -> None:
    assert parse_span(text).total_seconds() == seconds
