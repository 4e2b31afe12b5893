"""Acknowledgement reasons (SPEC "Console (web)"): stored in the book and its history, taken
from the CLI, MQTT and the console alike; an older book gains the columns and stays readable."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from alerts.alert import ACK_REASONS
from alerts.book import Book
from alerts.errors import AlertsError
from alerts.manager import AlertManager
from tests.alerts.conftest import COD, KIM_BAI, T0, finding, minutes

Make = Callable[..., AlertManager]
MAJOR = finding(400.0, "major")


def test_ack_with_reason_is_kept_on_the_alert_and_in_its_history(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    manager.deliver(T0)
    alert = manager.ack("A-000001", "lan", "thay màng lọc", T0 + minutes(5), "maintenance")
    assert (alert.ack_reason, alert.ack_note, alert.acked_by) == ("maintenance", "thay màng lọc",
                                                                  "lan")
    assert manager.get("A-000001").ack_reason == "maintenance"
    assert manager.list_alerts()[0].to_json()["ack_reason"] == "maintenance"
    history = manager.histories(["A-000001"])["A-000001"]
    events = [entry.event for entry in history]
    assert events == ["opened", "fired", "notified", "acknowledged"]
    (acked,) = [entry for entry in history if entry.event == "acknowledged"]
    assert acked.reason == "maintenance" and acked.detail == "lan: thay màng lọc"
    assert acked.at == T0 + minutes(5)
    (notified,) = [entry for entry in history if entry.event == "notified"]
    assert notified.channel == "mqtt" and notified.notified == "fired"


def test_ack_without_reason_keeps_todays_behaviour(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    alert = manager.ack("A-000001", "lan", None, T0 + minutes(1))
    assert alert.acknowledged and alert.ack_reason is None
    assert manager.book.transitions("A-000001")[-1]["reason"] is None


@pytest.mark.parametrize(("reason", "note", "message"), [
    ("coffee", None, "unknown acknowledgement reason 'coffee'"),
    ("other", None, "'other' needs a note"),
    ("other", "  ", "'other' needs a note"),
])
def test_bad_reasons_are_refused_and_change_nothing(
    make_manager: Make, reason: str, note: str | None, message: str
) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    with pytest.raises(AlertsError, match=message):
        manager.ack("A-000001", "lan", note, T0 + minutes(1), reason)
    assert not manager.get("A-000001").acknowledged


def test_other_with_a_note_is_accepted(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    assert manager.ack("A-000001", "lan", "mất điện", T0, "other").ack_reason == "other"
    assert set(ACK_REASONS) == {"maintenance", "calibration", "process_upset", "sensor_fault",
                                "false_alarm", "other"}


def test_ack_over_mqtt_carries_the_reason(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    payload = json.dumps({"id": "A-000001", "by": "hùng", "reason": "calibration"}).encode()
    alert = manager.handle_ack_message("quantrac/v1/kim-bai/kim-bai/alerts/ack", payload, T0)
    assert alert.ack_reason == "calibration"
    bad = json.dumps({"id": "A-000001", "by": "hùng", "reason": 3}).encode()
    with pytest.raises(AlertsError, match="reason must be a string"):
        manager.handle_ack_message("quantrac/v1/kim-bai/kim-bai/alerts/ack", bad, T0)


def test_list_alerts_by_plant_and_change_marker(make_manager: Make) -> None:
    manager = make_manager()
    before = manager.change_marker()
    manager.observe([MAJOR], [COD], T0)
    after = manager.change_marker()
    assert after > before
    assert [a.id for a in manager.list_alerts(plants=["kim-bai"])] == ["A-000001"]
    assert manager.list_alerts(plants=["elsewhere"]) == []
    manager.ack("A-000001", "lan", None, T0)
    assert manager.change_marker() > after


# A book as the first release wrote it: no ack_reason, no transitions.reason.
_OLD_SCHEMA = """
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL, plant TEXT NOT NULL, station TEXT NOT NULL,
    parameter TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    severity TEXT NOT NULL, basis TEXT NOT NULL,
    value REAL, "limit" REAL, ratio REAL,
    started_at TEXT NOT NULL, last_end TEXT NOT NULL, opened_at TEXT NOT NULL,
    last_breach_at TEXT NOT NULL, breach_bases TEXT NOT NULL DEFAULT '',
    fired_at TEXT, announced_at TEXT, notified_at TEXT, notify_count INTEGER NOT NULL DEFAULT 0,
    escalated_at TEXT, clear_since TEXT, resolved_at TEXT,
    acked_by TEXT, acked_at TEXT, ack_note TEXT, suppressed TEXT,
    flapping INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_seq INTEGER NOT NULL REFERENCES alerts (seq),
    at TEXT NOT NULL, event TEXT NOT NULL,
    from_state TEXT, to_state TEXT NOT NULL,
    severity TEXT NOT NULL, value REAL, detail TEXT NOT NULL DEFAULT ''
);
INSERT INTO alerts (cluster, plant, station, parameter, kind, state, severity, basis, value,
    "limit", ratio, started_at, last_end, opened_at, last_breach_at, acked_by, acked_at, ack_note)
VALUES ('kim-bai', 'kim-bai', 'outlet', 'cod', 'exceedance', 'firing', 'major', 'instantaneous',
    400, 135, 2.96, '2026-10-05T03:00:00.000000+00:00', '2026-10-05T03:00:00.000000+00:00',
    '2026-10-05T03:00:00.000000+00:00', '2026-10-05T03:00:00.000000+00:00', 'lan',
    '2026-10-05T03:05:00.000000+00:00', 'cũ');
INSERT INTO transitions (alert_seq, at, event, from_state, to_state, severity, detail)
VALUES (1, '2026-10-05T03:05:00.000000+00:00', 'acknowledged', 'firing', 'firing', 'major',
    'lan: cũ');
"""


def test_an_older_book_gains_the_reason_columns_and_keeps_its_alerts(
    tmp_path: Path, make_manager: Make
) -> None:
    state = tmp_path / "old"
    state.mkdir()
    conn = sqlite3.connect(state / "alerts.sqlite")
    conn.executescript(_OLD_SCHEMA)
    conn.close()
    book = Book(state)
    (alert,) = book.list_alerts()
    assert (alert.acked_by, alert.ack_note, alert.ack_reason) == ("lan", "cũ", None)
    assert book.transitions(alert.id)[0]["reason"] is None
    Book(state)  # a second open finds nothing left to add
    manager = make_manager(state)
    assert manager.ack(alert.id, "hùng", None, T0 + minutes(9), "sensor_fault").ack_reason == (
        "sensor_fault"
    )
    columns = {row[1] for row in sqlite3.connect(state / "alerts.sqlite").execute(
        "PRAGMA table_info(alerts)")}
    assert "ack_reason" in columns


def test_cli_ack_reason_flag(
    tmp_path: Path, make_manager: Make, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quantrac.cli import main

    state = tmp_path / "state"
    manager = make_manager(state)
    manager.observe([MAJOR], [COD], T0)
    monkeypatch.setenv("QUANTRAC_STATE_DIR", str(state))

    def quantrac(*args: str) -> SimpleNamespace:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    refused = quantrac("alerts", "ack", "A-000001", "--by", "lan", "--reason", "coffee")
    assert refused.returncode == 2 and "--reason" in refused.stderr
    refused = quantrac("alerts", "ack", "A-000001", "--by", "lan", "--reason", "other")
    assert refused.returncode == 2 and "--reason other needs --note" in refused.stderr
    done = quantrac("alerts", "ack", "A-000001", "--by", "lan", "--reason", "process_upset")
    assert done.returncode == 0, done.stderr
    listed = json.loads(quantrac("alerts", "list", "--json").stdout)
    assert listed[0]["ack_reason"] == "process_upset" and listed[0]["acked_by"] == "lan"
    table = quantrac("alerts", "list").stdout
    assert "lan (process_upset)" in table


def test_the_reason_reaches_the_report_rows(make_manager: Make, tmp_path: Path) -> None:
    """quantrac.reporting reads the book directly: the reason given at acknowledgement is the
    reason the report's alert table shows."""
    from datetime import timedelta

    from quantrac.config import parse_config
    from quantrac.reporting import alert_rows

    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    manager.ack("A-000001", "lan", "đổi điện cực", T0 + minutes(5), "calibration")
    config = parse_config({"state": {"dir": str(tmp_path / "state")},
                           "plants": [KIM_BAI.model_dump(mode="json", exclude_defaults=True)]})
    rows = alert_rows(config, KIM_BAI, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(r.id, r.reason, r.note, r.acked_by) for r in rows] == [
        ("A-000001", "calibration", "đổi điện cực", "lan")]
