"""Operator messages in Vietnamese and English, rendered from `alerts/templates/<lang>.toml`.

The shipped templates name plant, station, parameter, value, limit, ratio, basis, start time
(plant-local), severity and what to do next; config may override subject/body per language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from alerts.alert import Alert
from alerts.errors import AlertsError
from alerts.settings import LANGS, TemplateOverride
from rules.permit import Plant


def _format_number(value: float | None, comma: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return text.replace(".", ",") if comma else text


class Messages:
    """Compiled templates and vocabularies for every language."""

    def __init__(self, overrides: Mapping[str, TemplateOverride] | None = None) -> None:
        self._tables: dict[str, dict[str, Any]] = {}
        self._templates: dict[str, tuple[jinja2.Template, jinja2.Template]] = {}
        for lang in LANGS:
            text = resources.files("alerts").joinpath(f"templates/{lang}.toml").read_text("utf-8")
            table = tomllib.loads(text)
            override = (overrides or {}).get(lang)
            subject = override.subject if override and override.subject else table["subject"]
            body = override.body if override and override.body else table["body"]
            env = jinja2.Environment(
                undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
            )
            comma = bool(table.get("decimal_comma", False))
            env.filters["num"] = lambda v, c=comma: _format_number(v, c)
            try:
                self._templates[lang] = (env.from_string(subject), env.from_string(body))
            except jinja2.TemplateSyntaxError as exc:
                raise AlertsError(f"alerts.templates.{lang}: {exc}") from exc
            self._tables[lang] = table

    def render(
        self, alert: Alert, event: str, lang: str, plant: Plant | None, now: datetime
    ) -> tuple[str, str]:
        """(subject, body) for one event of one alert in `lang` ("vi" or "en")."""
        if lang not in self._templates:
            raise AlertsError(f"no messages for language {lang!r} (use vi or en)")
        table = self._tables[lang]
        zone = plant.zone if plant else ZoneInfo("UTC")
        time_format = table["time_format"]

        def local(value: datetime | None) -> str:
            return "–" if value is None else value.astimezone(zone).strftime(time_format)

        def name(section: str, key: str) -> str:
            return str(table.get(section, {}).get(key, key))

        context = {
            "event": event,
            "event_name": name("events", event),
            "id": alert.id,
            "plant": alert.plant,
            "plant_name": plant.name if plant else alert.plant,
            "station": alert.station,
            "station_name": name("stations", alert.station),
            "parameter": alert.parameter,
            "parameter_name": name("parameters", alert.parameter),
            "kind": alert.kind,
            "kind_name": name("kinds", alert.kind),
            "severity": alert.severity,
            "severity_name": name("severities", alert.severity),
            "basis": alert.basis,
            "basis_name": name("bases", alert.basis),
            "value": alert.value,
            "limit": alert.limit,
            "ratio": alert.ratio,
            "start": local(alert.started_at),
            "resolved": local(alert.resolved_at or now),
            "now": local(now),
            "action": name("actions", alert.kind),
            "acked_by": alert.acked_by,
            "ack_note": alert.ack_note,
            "suppressed": alert.suppressed,
        }
        subject_template, body_template = self._templates[lang]
        try:
            subject = subject_template.render(context).strip()
            body = body_template.render(context).strip()
        except jinja2.TemplateError as exc:
            raise AlertsError(f"alerts.templates.{lang}: {exc}") from exc
        return subject, body
