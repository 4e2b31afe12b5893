"""E-mail channel against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.manager import AlertManager
from tests.alerts.conftest import COD, T0, finding, minutes

Make = Callable[..., AlertManager]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free loopback port (aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_one_email_per_episode(make_manager: Make, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config: dict[str, Any] = {
        "channels": {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "starttls": False,
                "sender": "quantrac@kimbai.vn",
                "to": ["operator@kimbai.vn", "lead@kimbai.vn"],
            }
        },
    }
    manager = make_manager(**config)
    for minute in range(0, 20, 2):  # the same breach seen again and again
        manager.observe([finding(220.0, "major")], [COD], T0 + minutes(minute))
        manager.tick(T0 + minutes(minute + 1))
    assert len(inbox.messages) == 1
    fired = inbox.messages[0]
    assert fired["Subject"] == "[CẢNH BÁO] Vượt ngưỡng COD tại đầu ra – Kim Bai WWTP (A-000001)"
    assert fired["To"] == "operator@kimbai.vn, lead@kimbai.vn"
    assert fired["X-Quantrac-Alert"] == "A-000001"
    body = fired.get_content()
    assert "Giá trị đo: 220 mg/L; giới hạn: 135 mg/L; gấp 1,63 lần giới hạn" in body
    assert "Bắt đầu: 05/10/2026 10:00" in body  # plant-local time
    assert "quantrac alerts ack A-000001" in body

    manager.observe([], [COD], T0 + minutes(30), values={COD: 80.0})
    manager.tick(T0 + minutes(30))
    assert len(inbox.messages) == 2
    assert inbox.messages[1]["Subject"].startswith("[ĐÃ KHẮC PHỤC]")
    assert [a["outcome"] for a in manager.outbox.attempts()] == ["sent", "sent"]


def test_unreachable_smtp_is_a_recorded_failure(make_manager: Make) -> None:
    config: dict[str, Any] = {
        "channels": {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": 1,
                "timeout_s": 2,
                "starttls": False,
                "sender": "q@x.vn",
                "to": ["o@x.vn"],
                "lang": "en",
            }
        },
    }
    manager = make_manager(**config)
    manager.observe([finding(220.0, "major")], [COD], T0)
    manager.deliver(T0)
    [attempt] = manager.outbox.attempts()
    assert attempt["outcome"] == "error" and "smtp 127.0.0.1:1" in attempt["error"]
    assert manager.outbox.rows()[0]["status"] == "pending"


def test_login_with_password_from_environment(
    make_manager: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    seen: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret")

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    try:
        config: dict[str, Any] = {
            "channels": {
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": port,
                    "starttls": False,
                    "username": "alerts",
                    "password_env": "TEST_SMTP_PASSWORD",
                    "sender": "q@x.vn",
                    "to": ["o@x.vn"],
                }
            },
        }
        manager = make_manager(**config)
        manager.observe([finding(220.0, "major")], [COD], T0)
        manager.deliver(T0)
    finally:
        controller.stop()
    assert seen == [("alerts", "s3cret")]
    assert len(inbox.messages) == 1
