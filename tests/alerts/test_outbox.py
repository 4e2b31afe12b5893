"""Outbox: same-transaction enqueue, crash recovery, retries with backoff, failover, audit."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from alerts.book import Book
from alerts.manager import AlertManager
from alerts.notification import Notification
from alerts.outbox import Outbox
from alerts.settings import OutboxSettings
from tests.alerts.conftest import COD, T0, Published, finding, minutes

Make = Callable[..., AlertManager]
MAJOR = finding(220.0, "major")


def statuses(manager: AlertManager) -> list[str]:
    return [row["status"] for row in manager.outbox.rows()]


def test_notification_is_enqueued_with_the_transition(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    [row] = manager.outbox.rows()
    assert (row["alert_id"], row["event"], row["channel"], row["status"]) == (
        "A-000001",
        "fired",
        "mqtt",
        "pending",
    )


def test_pending_notification_is_sent_once_after_restart(
    make_manager: Make, published: Published
) -> None:
    crashed = make_manager()
    crashed.observe([MAJOR], [COD], T0)  # committed, then the process dies before sending
    restarted = make_manager()
    restarted.recover(T0 + minutes(1))
    assert restarted.deliver(T0 + minutes(1)) == 1
    assert restarted.deliver(T0 + minutes(2)) == 0
    restarted.tick(T0 + minutes(3))
    assert published.names() == ["fired"]
    assert statuses(restarted) == ["sent"]


@pytest.mark.parametrize(("policy", "sent"), [("skip", []), ("resend", ["fired"])])
def test_interrupted_send_follows_policy(
    make_manager: Make, published: Published, policy: str, sent: list[str]
) -> None:
    crashed = make_manager(outbox={"interrupted": policy})
    crashed.observe([MAJOR], [COD], T0)
    [notification] = crashed.outbox.due(T0)
    assert crashed.outbox._claim(notification)  # marked "sending", then the process died
    restarted = make_manager(outbox={"interrupted": policy})
    assert restarted.recover(T0 + minutes(1)) == 1
    restarted.deliver(T0 + minutes(1))
    restarted.deliver(T0 + minutes(2))
    assert published.names() == sent
    outcomes = [a["outcome"] for a in restarted.outbox.attempts()]
    assert outcomes[0] == "interrupted"


def test_failed_sends_retry_with_backoff_then_fail_over(
    make_manager: Make, published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    config: dict[str, Any] = {
        "channels": {"mqtt": {"type": "mqtt"}, "console": {"type": "terminal"}},
        "routes": {"ops": {"channels": ["mqtt"], "failover": "console"}},
        "outbox": {"backoff_base_s": 10, "failover_after": 3},
    }
    manager = make_manager(**config)
    published.fail = True
    manager.observe([MAJOR], [COD], T0)
    now = T0
    assert manager.deliver(now) == 0
    row = manager.outbox.rows()[0]
    retry_at = row["next_at"]
    assert row["status"] == "pending" and row["attempts"] == 1
    assert manager.deliver(now + timedelta(seconds=4)) == 0  # too early: backoff >= 5 s
    assert manager.outbox.rows()[0]["attempts"] == 1
    for _ in range(4):
        now += timedelta(seconds=60)
        manager.deliver(now)
    rows = manager.outbox.rows()
    assert [(r["channel"], r["status"]) for r in rows] == [
        ("mqtt", "failed_over"),
        ("console", "sent"),
    ]
    assert rows[0]["attempts"] == 3 and retry_at > row["created_at"]
    assert "[CẢNH BÁO] Vượt ngưỡng COD tại đầu ra" in capsys.readouterr().out
    trail = [(a["channel"], a["outcome"]) for a in manager.outbox.attempts("A-000001")]
    assert trail == [("mqtt", "error")] * 3 + [("mqtt", "failover"), ("console", "sent")]
    assert all(a["error"] for a in manager.outbox.attempts() if a["outcome"] == "error")


def test_without_failover_a_row_dies_after_max_attempts(
    make_manager: Make, published: Published
) -> None:
    manager = make_manager(outbox={"max_attempts": 2, "backoff_base_s": 1})
    published.fail = True
    manager.observe([MAJOR], [COD], T0)
    for second in range(0, 600, 30):
        manager.deliver(T0 + timedelta(seconds=second))
    assert statuses(manager) == ["dead"]
    assert manager.outbox.rows()[0]["attempts"] == 2


def test_backoff_is_exponential_capped_and_jittered(tmp_path: Any) -> None:
    outbox = Outbox(
        Book(tmp_path), OutboxSettings(backoff_base_s=2, backoff_max_s=60), random.Random(7)
    )
    for attempts, full in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (20, 60)]:
        delays = [outbox.backoff(attempts).total_seconds() for _ in range(50)]
        assert all(full * 0.5 <= d < full for d in delays), (attempts, delays)
        assert len(set(delays)) > 1  # jitter


def test_a_channel_that_crashes_is_recorded_not_fatal(tmp_path: Any) -> None:
    class Broken:
        name = "broken"

        def send(self, notification: Notification) -> None:
            raise RuntimeError("bug")

    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings())
    note = Notification(
        alert_id="A-000001",
        event="fired",
        channel="broken",
        cluster="c",
        plant="p",
        lang="en",
        subject="s",
        text="t",
    )
    with book.transaction() as conn:
        outbox.enqueue(conn, [note], T0)
    assert outbox.deliver({"broken": Broken()}, T0) == 0
    [attempt] = outbox.attempts()
    assert attempt["outcome"] == "error" and "RuntimeError: bug" in attempt["error"]


def test_fresh_rows_are_due_whatever_the_clock(make_manager: Make, published: Published) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0 + timedelta(days=3))  # a simulated clock ahead
    assert manager.deliver(T0) == 1
    assert published.names() == ["fired"]
