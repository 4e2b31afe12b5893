"""Batched delivery and long-lived connections: claim a batch before its sends, size it by the
channel's pace, hand back what a slow send left over, never send a row twice (two managers,
several threads), and keep a crash inside a batch an interruption, not a duplicate."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.book import Book
from alerts.errors import AlertsError
from alerts.manager import AlertManager
from alerts.notification import Notification
from alerts.outbox import BATCH_BUDGET_S, Outbox
from alerts.settings import AlertSettings, OutboxSettings
from rules.findings import Finding
from rules.permit import Plant
from tests.alerts.conftest import T0, Published


class Recording:
    """A channel that records each send and what the outbox held at that moment."""

    name = "rec"

    def __init__(self, book: Book, delay_s: float = 0.0) -> None:
        self.sent: list[int] = []
        self.sending_seen: list[int] = []
        self.delay_s = delay_s
        self._probe = Book(book.path.parent)  # its own connection: sees committed state only
        self._probe.connection()  # opened now, so the first measured send is a send

    def send(self, notification: Notification) -> None:
        rows = self._probe.connection().execute(
            "SELECT COUNT(*) FROM outbox WHERE status = 'sending'"
        )
        self.sending_seen.append(int(rows.fetchone()[0]))
        time.sleep(self.delay_s)
        self.sent.append(notification.outbox_id)


def note(i: int) -> Notification:
    return Notification(
        alert_id=f"A-{i:06d}",
        event="fired",
        channel="rec",
        cluster="c",
        plant="p",
        lang="en",
        subject=f"s{i}",
        text="t",
    )


def enqueue(book: Book, outbox: Outbox, count: int, first: int = 1) -> None:
    with book.transaction() as conn:
        outbox.enqueue(conn, [note(i) for i in range(first, first + count)], T0)


def statuses(outbox: Outbox) -> Counter[str]:
    return Counter(row["status"] for row in outbox.rows())


def test_a_batch_is_claimed_before_any_of_its_sends(tmp_path: Path) -> None:
    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings())
    channel = Recording(book)
    enqueue(book, outbox, 1)
    assert outbox.deliver({"rec": channel}, T0) == 1  # unknown pace: one row; now measured
    enqueue(book, outbox, 20, first=2)
    assert outbox.deliver({"rec": channel}, T0) == 20
    # Every row of a batch is committed `sending` before its first send: each send sees its
    # whole batch. The batch size follows the measured pace (20 on a quiet machine, fewer
    # under load), so the check is per run of sends, not one fixed list.
    seen = channel.sending_seen
    assert seen[0] == 1 and seen[1] > 1
    runs: list[tuple[int, int]] = []
    for value in seen[1:]:
        if runs and runs[-1][0] == value and runs[-1][1] < value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    assert sum(length for _, length in runs) == 20
    assert all(length <= value for value, length in runs)
    assert statuses(outbox) == {"sent": 21}
    outcomes = [a["outcome"] for a in outbox.attempts()]
    assert outcomes == ["sent"] * 21
    assert sorted(channel.sent) == list(range(1, 22))


def test_a_slow_channel_claims_one_row_at_a_time(tmp_path: Path) -> None:
    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings())
    channel = Recording(book, delay_s=BATCH_BUDGET_S * 1.2)
    enqueue(book, outbox, 3)
    sent = 0
    while (step := outbox.deliver_pass({"rec": channel}, T0)).handled:
        sent += step.sent
    assert sent == 3
    assert channel.sending_seen == [1, 1, 1]


def test_a_send_slower_than_the_budget_hands_the_rest_back(tmp_path: Path) -> None:
    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings())
    channel = Recording(book)
    enqueue(book, outbox, 1)
    outbox.deliver({"rec": channel}, T0)  # fast: batches grow
    enqueue(book, outbox, 5, first=2)
    channel.delay_s = BATCH_BUDGET_S * 1.5  # the channel stalls
    step = outbox.deliver_pass({"rec": channel}, T0)
    assert (step.sent, step.more) == (1, True)
    assert statuses(outbox) == {"sent": 2, "pending": 4}
    untouched = [row for row in outbox.rows() if row["status"] == "pending"]
    assert all(row["attempts"] == 0 for row in untouched)
    assert len(outbox.attempts()) == 2  # a handed-back row was never attempted


def test_failures_in_a_batch_are_recorded_per_row(tmp_path: Path) -> None:
    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings(backoff_base_s=10))

    class Flaky:
        name = "rec"

        def send(self, notification: Notification) -> None:
            if notification.outbox_id % 2 == 0:
                raise RuntimeError(f"bug {notification.outbox_id}")

    enqueue(book, outbox, 1)
    assert outbox.deliver({"rec": Flaky()}, T0) == 1  # row 1 goes out; the pace is measured
    enqueue(book, outbox, 6, first=2)
    assert outbox.deliver({"rec": Flaky()}, T0) == 3
    rows = {row["seq"]: row for row in outbox.rows()}
    assert [rows[s]["status"] for s in sorted(rows)] == ["sent", "pending"] * 3 + ["sent"]
    assert all(
        rows[s]["attempts"] == 1 and rows[s]["next_at"] > rows[s]["created_at"]
        for s in rows
        if rows[s]["status"] == "pending"
    )
    errors = [a["error"] for a in outbox.attempts() if a["outcome"] == "error"]
    assert errors == ["RuntimeError: bug 2", "RuntimeError: bug 4", "RuntimeError: bug 6"]


def test_two_outboxes_on_one_book_from_several_threads_send_each_row_once(
    tmp_path: Path,
) -> None:
    book = Book(tmp_path)
    writer = Outbox(book, OutboxSettings())
    enqueue(book, writer, 300)
    outboxes = [Outbox(Book(tmp_path), OutboxSettings()) for _ in range(2)]
    sent: list[int] = []
    lock = threading.Lock()

    class Counting:
        name = "rec"

        def send(self, notification: Notification) -> None:
            with lock:
                sent.append(notification.outbox_id)

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(outbox: Outbox) -> None:
        try:
            barrier.wait()
            while outbox.deliver_pass({"rec": Counting()}, T0).handled:
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in outboxes for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(sent) == list(range(1, 301))
    assert statuses(writer) == {"sent": 300}
    assert len(writer.attempts()) == 300


class Died(BaseException):
    """Stands for the process dying in the middle of a send."""


@pytest.mark.parametrize(("policy", "resent"), [("skip", 0), ("resend", 4)])
def test_a_crash_inside_a_batch_is_an_interruption(
    tmp_path: Path, policy: str, resent: int
) -> None:
    settings = OutboxSettings(interrupted=policy)  # type: ignore[arg-type]
    book = Book(tmp_path)
    outbox = Outbox(book, settings)
    channel = Recording(book)
    enqueue(book, outbox, 1)
    outbox.deliver({"rec": channel}, T0)

    class Dying:
        name = "rec"
        calls = 0

        def send(self, notification: Notification) -> None:
            self.calls += 1
            if self.calls == 3:
                raise Died

    enqueue(book, outbox, 4, first=2)
    with pytest.raises(Died):
        outbox.deliver({"rec": Dying()}, T0)
    assert statuses(outbox) == {"sent": 1, "sending": 4}  # nothing recorded as sent
    restarted = Outbox(Book(tmp_path), settings)
    assert restarted.recover(T0) == 4
    again = Recording(book)
    while restarted.deliver({"rec": again}, T0):
        pass
    assert len(again.sent) == resent
    outcomes = Counter(a["outcome"] for a in restarted.attempts())
    assert outcomes["interrupted"] == 4


def test_each_thread_keeps_its_own_connection(tmp_path: Path) -> None:
    book = Book(tmp_path)
    mine = book.connection()
    assert book.connection() is mine
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(book.connection()))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine
    book.release()
    assert book.connection() is not mine


def test_transactions_do_not_nest_and_a_failed_one_rolls_back(tmp_path: Path) -> None:
    book = Book(tmp_path)
    outbox = Outbox(book, OutboxSettings())
    with (
        book.transaction(),
        pytest.raises(AlertsError, match="do not nest"),
        book.transaction(),
    ):
        pass
    with pytest.raises(RuntimeError), book.transaction() as conn:
        outbox.enqueue(conn, [note(1)], T0)
        raise RuntimeError("boom")
    assert outbox.rows() == []
    assert not book.connection().in_transaction
    enqueue(book, outbox, 1)  # the connection is still usable
    assert len(outbox.rows()) == 1


def test_an_alert_storm_is_delivered_by_the_workers(tmp_path: Path) -> None:
    count = 200
    plants = [
        Plant(
            id=f"p{i}",
            cluster="c",
            name=f"P{i}",
            design_flow_m3_day=100,
            stations={"outlet": ["cod"]},
        )
        for i in range(count)
    ]
    published = Published()
    settings = AlertSettings.model_validate(
        {"min_duration": {}, "channels": {"mqtt": {"type": "mqtt"}}}
    )
    manager = AlertManager(settings, plants, tmp_path, publish=published)
    manager.start()
    try:
        now = datetime.now(UTC)
        began = time.monotonic()
        for i in range(count):
            finding = Finding(
                plant=f"p{i}",
                station="outlet",
                parameter="cod",
                kind="exceedance",
                basis="instantaneous",
                start=now,
                end=now,
                value=200.0,
                limit=135.0,
                ratio=200 / 135,
                severity="major",
            )
            manager.observe([finding], [(f"p{i}", "outlet", "cod")], now)
        while len(published.events()) < count and time.monotonic() - began < 20:
            time.sleep(0.01)
    finally:
        manager.close()
    ids = Counter(event["id"] for event in published.events())
    assert len(ids) == count and set(ids.values()) == {1}
    assert Counter(row["status"] for row in manager.outbox.rows()) == {"sent": count}
