"""Webhook channel against a real local HTTP server (http.server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alerts.channels.webhook import WebhookChannel
from alerts.manager import AlertManager
from alerts.notification import Notification
from alerts.settings import WebhookChannelSettings
from tests.alerts.conftest import COD, T0, finding, minutes

Make = Callable[..., AlertManager]


class Hook:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.statuses: list[int] = []


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            status = 200
            if state.fail_next > 0:
                state.fail_next -= 1
                status = 500
            else:
                state.requests.append(body)
            state.statuses.append(status)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"boom")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def webhook_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"channels": {"hook": {"type": "webhook", "url": url, "lang": "en", **extra}}}


def test_one_post_per_episode(make_manager: Make, hook: tuple[Hook, str]) -> None:
    state, url = hook
    manager = make_manager(**webhook_config(url))
    for minute in range(0, 20, 2):
        manager.observe([finding(220.0, "major")], [COD], T0 + minutes(minute))
        manager.tick(T0 + minutes(minute + 1))
    assert len(state.requests) == 1
    body = state.requests[0]
    assert body["event"] == "fired"
    assert body["subject"] == "[ALERT] Limit exceeded: COD at outlet – Kim Bai WWTP (A-000001)"
    assert body["alert"]["id"] == "A-000001" and body["alert"]["limit"] == 135.0
    assert body["alert"]["start"] == "2026-10-05T10:00:00+07:00"


def test_retry_after_server_error_then_recovery(make_manager: Make, hook: tuple[Hook, str]) -> None:
    state, url = hook
    state.fail_next = 2
    manager = make_manager(**webhook_config(url), outbox={"backoff_base_s": 5})
    manager.observe([finding(220.0, "major")], [COD], T0)
    now = T0
    for _ in range(5):
        manager.deliver(now)
        now += timedelta(seconds=30)
    assert state.statuses == [500, 500, 200]
    assert len(state.requests) == 1
    outcomes = [a["outcome"] for a in manager.outbox.attempts()]
    assert outcomes == ["error", "error", "sent"]
    assert "HTTP 500" in manager.outbox.attempts()[0]["error"]


def note(**data: Any) -> Notification:
    return Notification(
        alert_id="A-000007",
        event="fired",
        channel="hook",
        cluster="kim-bai",
        plant="kim-bai",
        lang="vi",
        subject="Tiêu đề",
        text="Nội dung\ndòng 2",
        data={"severity": "major", **data},
    )


@pytest.mark.parametrize(
    ("preset", "extra", "expected"),
    [
        ("slack", {}, {"text": "*Tiêu đề*\nNội dung\ndòng 2"}),
        (
            "telegram",
            {"chat_id": "-100123"},
            {"chat_id": "-100123", "text": "Tiêu đề\n\nNội dung\ndòng 2"},
        ),
    ],
)
def test_presets(preset: str, extra: dict[str, Any], expected: dict[str, Any]) -> None:
    channel = WebhookChannel(
        "hook",
        WebhookChannelSettings(type="webhook", url="http://127.0.0.1:9/x", preset=preset, **extra),
    )  # type: ignore[arg-type]
    assert channel.body(note()) == expected


def test_teams_preset_and_custom_template() -> None:
    teams = WebhookChannel(
        "t", WebhookChannelSettings(type="webhook", url="http://h/x", preset="teams")
    )
    card = teams.body(note())
    assert card["@type"] == "MessageCard" and card["themeColor"] == "E03C31"
    custom = WebhookChannel(
        "c",
        WebhookChannelSettings(
            type="webhook",
            url="http://h/x",
            body='{"msg": {{ subject | tojson }}, "sev": {{ alert.severity | tojson }}}',
        ),
    )
    assert custom.body(note()) == {"msg": "Tiêu đề", "sev": "major"}


def test_telegram_needs_chat_id() -> None:
    with pytest.raises(ValueError, match="chat_id"):
        WebhookChannelSettings(type="webhook", url="http://h/x", preset="telegram")
