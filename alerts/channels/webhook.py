"""Webhook channel (requests): a JSON POST shaped by a preset (generic, slack, teams,
telegram) or by a Jinja2 body template from the config."""

from __future__ import annotations

import json
import os
from typing import Any

import jinja2
import requests

from alerts.errors import AlertsError, ChannelError
from alerts.notification import Notification
from alerts.settings import WebhookChannelSettings

_COLOURS = {
    "info": "808080",
    "warning": "FFC000",
    "minor": "FF8C00",
    "major": "E03C31",
    "critical": "8B0000",
}


class WebhookChannel:
    """POSTs one JSON body per notification; any non-2xx answer is a failure to retry."""

    def __init__(self, name: str, settings: WebhookChannelSettings) -> None:
        self.name = name
        self._settings = settings
        self._template: jinja2.Template | None = None
        if settings.body is not None:
            env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
            env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
            try:
                self._template = env.from_string(settings.body)
            except jinja2.TemplateSyntaxError as exc:
                raise AlertsError(f"alerts.channels.{name}.body: {exc}") from exc

    def body(self, n: Notification) -> dict[str, Any]:
        """The JSON object to POST for one notification."""
        if self._template is not None:
            try:
                text = self._template.render(
                    subject=n.subject,
                    text=n.text,
                    event=n.event,
                    id=n.alert_id,
                    alert=n.data,
                    lang=n.lang,
                )
                value = json.loads(text)
            except (jinja2.TemplateError, ValueError) as exc:
                raise ChannelError(f"webhook body template: {exc}") from exc
            if not isinstance(value, dict):
                raise ChannelError("webhook body template must render a JSON object")
            return value
        preset = self._settings.preset
        if preset == "slack":
            return {"text": f"*{n.subject}*\n{n.text}"}
        if preset == "teams":
            return {
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": n.subject,
                "title": n.subject,
                "themeColor": _COLOURS.get(str(n.data.get("severity")), "808080"),
                "text": n.text.replace("\n", "  \n"),
            }
        if preset == "telegram":
            return {"chat_id": self._settings.chat_id, "text": f"{n.subject}\n\n{n.text}"}
        return {"subject": n.subject, "text": n.text, "event": n.event, "alert": n.data}

    def _url(self) -> str:
        if self._settings.url_env:
            value = os.environ.get(self._settings.url_env)
            if not value:
                raise ChannelError(f"environment variable {self._settings.url_env} not set")
            return value
        return self._settings.url or ""

    def send(self, notification: Notification) -> None:
        body = self.body(notification)
        url = self._url()
        try:
            response = requests.post(
                url, json=body, headers=self._settings.headers, timeout=self._settings.timeout_s
            )
        except requests.RequestException as exc:
            raise ChannelError(f"webhook {self.name}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise ChannelError(
                f"webhook {self.name}: HTTP {response.status_code} {response.text[:200]!r}"
            )
