"""Operator messages in Vietnamese and English, rendered from `alerts/templates/<lang>.toml`.

The templates hold the sentences (subject, body, what to do next per kind); every word in them
(parameter, station, kind, basis, severity, event, unit, regulation) and every number and time
comes from `rules.vocabulary`, the vocabulary the reports and the console use too. The shipped
templates name plant, station, parameter, value and limit with unit, where the limit comes from
(QCVN 40:2011/BTNMT column and coefficients, or the permit), ratio, basis, start time
(plant-local), severity and what to do next; config may override subject/body per language.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from importlib import resources
from zoneinfo import ZoneInfo

import jinja2

from alerts.alert import Alert
from alerts.errors import AlertsError
from alerts.settings import TemplateOverride
from rules.errors import RulesError
from rules.limits import EffectiveLimits, plant_limits
from rules.permit import Plant
from rules.vocabulary import LANGS, Vocabulary

# Kinds whose value and limit are in the parameter's unit (the others compare fractions).
_MEASURED_KINDS = ("exceedance", "below_minimum", "bypass")
_LIMITED_KINDS = ("exceedance", "below_minimum")
_LIMITS_KEPT = 1024  # (plant, day) limit sets remembered; a day's set serves a whole storm


class Messages:
    """Compiled templates for every language, with the vocabulary that fills them."""

    def __init__(self, overrides: Mapping[str, TemplateOverride] | None = None) -> None:
        self._actions: dict[str, Mapping[str, str]] = {}
        self._words: dict[str, Vocabulary] = {}
        self._templates: dict[str, tuple[jinja2.Template, jinja2.Template]] = {}
        # Deriving a plant's limits costs ~0.5 ms and rendering runs inside the alert book's
        # write transaction, so each (plant, day) is derived once.
        self._limits: dict[tuple[str, date], EffectiveLimits | None] = {}
        for lang in LANGS:
            text = resources.files("alerts").joinpath(f"templates/{lang}.toml").read_text("utf-8")
            table = tomllib.loads(text)
            override = (overrides or {}).get(lang)
            subject = override.subject if override and override.subject else table["subject"]
            body = override.body if override and override.body else table["body"]
            words = Vocabulary.for_lang(lang)
            env = jinja2.Environment(
                undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
            )
            env.filters["num"] = lambda v, w=words: "–" if v is None else w.format_decimal(v, 3)
            try:
                self._templates[lang] = (env.from_string(subject), env.from_string(body))
            except jinja2.TemplateSyntaxError as exc:
                raise AlertsError(f"alerts.templates.{lang}: {exc}") from exc
            self._actions[lang] = dict(table.get("actions", {}))
            self._words[lang] = words

    def render(
        self, alert: Alert, event: str, lang: str, plant: Plant | None, now: datetime,
        place: tuple[str, ZoneInfo] | None = None,
    ) -> tuple[str, str]:
        """(subject, body) for one event of one alert in `lang` ("vi" or "en"). `place`: the
        name and zone of an alert filed under no plant (a cluster without a central WWTP)."""
        if lang not in self._templates:
            raise AlertsError(f"no messages for language {lang!r} (use vi or en)")
        words = self._words[lang]
        zone = plant.zone if plant else place[1] if place else ZoneInfo("UTC")

        def local(value: datetime | None) -> str:
            return "–" if value is None else words.format_datetime(value, zone)

        measured = alert.kind in _MEASURED_KINDS
        context = {
            "event": event,
            "event_name": words.alert_event(event).upper(),
            "id": alert.id,
            "plant": alert.plant,
            "plant_name": plant.name if plant else place[0] if place else alert.plant,
            "station": alert.station,
            "station_name": words.in_sentence(words.station(alert.station)),
            "parameter": alert.parameter,
            "parameter_name": words.in_sentence(words.parameter(alert.parameter)),
            "kind": alert.kind,
            "kind_name": words.kind(alert.kind),
            "severity": alert.severity,
            "severity_name": words.in_sentence(words.severity(alert.severity)),
            "basis": alert.basis,
            "basis_name": words.in_sentence(words.basis(alert.basis)),
            "value": alert.value,
            "limit": alert.limit,
            "unit": words.unit(alert.parameter) if measured else "",
            "limit_source": self._limit_source(alert, plant, words),
            "ratio": alert.ratio,
            "start": local(alert.started_at),
            "resolved": local(alert.resolved_at or now),
            "now": local(now),
            "action": self._actions[lang].get(alert.kind, alert.kind),
            "acked_by": alert.acked_by,
            "ack_note": alert.ack_note,
            "suppressed": alert.suppressed,
            "note": "" if alert.explanation is None
            else words.collection_note(alert.explanation),
        }
        subject_template, body_template = self._templates[lang]
        try:
            subject = subject_template.render(context).strip()
            body = body_template.render(context).strip()
        except jinja2.TemplateError as exc:
            raise AlertsError(f"alerts.templates.{lang}: {exc}") from exc
        return subject, body

    def _limit_source(self, alert: Alert, plant: Plant | None, words: Vocabulary) -> str:
        """Where the alert's limit comes from ("QCVN 40:2011/BTNMT cột B × Kq 0,9 × Kf 1,0",
        "giấy phép"); "" when the kind has no such limit or the plant's limits are unknown."""
        if plant is None or alert.limit is None or alert.kind not in _LIMITED_KINDS:
            return ""
        day = alert.started_at.astimezone(plant.zone).date()
        key = (plant.id, day)
        if key not in self._limits:
            if len(self._limits) >= _LIMITS_KEPT:
                self._limits.clear()
            try:
                self._limits[key] = plant_limits(plant, day)
            except RulesError:  # e.g. a regulation not in force that day: say nothing
                self._limits[key] = None
        limits = self._limits[key]
        limit = None if limits is None else limits.get(alert.parameter)
        if limits is None or limit is None:
            return ""
        # name a source only for the very limit the alert was judged against
        bound = limit.max if alert.kind == "exceedance" else limit.min
        if bound is None or not math.isclose(bound, alert.limit, rel_tol=1e-9):
            return ""
        return limits.source_text(alert.parameter, words, confidence=False)
