"""AlertManager over a real SQLite book: restarts, races, scope, acks, routing, points."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.errors import AlertsError
from alerts.manager import AlertManager, render_alert_table
from alerts.settings import AlertSettings
from tests.alerts.conftest import COD, KIM_BAI, MQTT_ONLY, PH, T0, Published, finding, minutes

Make = Callable[..., AlertManager]
MAJOR = finding(220.0, "major")


def test_one_notification_per_episode_despite_repeated_breaches(
    make_manager: Make, published: Published
) -> None:
    manager = make_manager()
    for minute in range(0, 30, 5):
        manager.observe(
            [finding(220.0, "major", start=T0 + minutes(minute))], [COD], T0 + minutes(minute)
        )
        manager.tick(T0 + minutes(minute) + timedelta(seconds=1))
    assert published.names() == ["fired"]
    [alert] = manager.list_alerts()
    assert alert.state == "firing" and alert.id == "A-000001"
    manager.observe([], [COD], T0 + minutes(31), values={COD: 100.0})
    manager.deliver(T0 + minutes(31))
    assert published.names() == ["fired", "resolved"]
    assert manager.list_alerts(open_only=True) == []


def test_restart_mid_episode_neither_renotifies_nor_loses_state(
    tmp_path: Path, make_manager: Make, published: Published
) -> None:
    first = make_manager()
    first.observe([MAJOR], [COD], T0)
    first.deliver(T0)
    first.close()
    assert published.names() == ["fired"]

    second = make_manager()  # same state dir: a restarted collector
    second.observe([MAJOR], [COD], T0 + minutes(2))
    second.tick(T0 + minutes(3))
    assert published.names() == ["fired"]
    [alert] = second.list_alerts()
    assert alert.id == "A-000001" and alert.state == "firing" and alert.fired_at == T0
    # the renotify clock also survived: due one hour after the first notification
    second.tick(T0 + minutes(59))
    second.tick(T0 + minutes(60))
    assert published.names() == ["fired", "renotify"]


def test_two_simultaneous_breaches_from_two_threads_make_one_alert(
    make_manager: Make, published: Published
) -> None:
    managers = [make_manager(), make_manager()]
    barrier = threading.Barrier(len(managers) * 2)
    errors: list[BaseException] = []

    def breach(manager: AlertManager) -> None:
        try:
            barrier.wait()
            manager.observe([MAJOR], [COD], T0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=breach, args=(m,)) for m in managers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(managers[0].list_alerts()) == 1
    managers[0].deliver(T0)
    assert published.names() == ["fired"]


def test_no_data_never_resolves_while_data_stays_absent(
    make_manager: Make, published: Published
) -> None:
    manager = make_manager()
    gap = finding(None, "warning", kind="no_data", basis="instantaneous", limit=None)
    manager.observe([gap], [], T0)
    for minute in range(1, 240, 7):
        now = T0 + minutes(minute)
        manager.observe([], [], now)  # nothing in scope: the series is silent
        manager.observe([], [PH], now)  # another parameter of the station has data
        manager.tick(now)
    [alert] = manager.list_alerts()
    assert alert.state == "firing"
    manager.observe([], [COD], T0 + minutes(241), bases={"instantaneous"})  # data again
    manager.deliver(T0 + minutes(241))
    assert manager.list_alerts()[0].state == "resolved"
    assert published.names()[0] == "fired" and published.names()[-1] == "resolved"


def test_exceedance_does_not_resolve_when_the_series_disappears(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    for minute in range(1, 30):
        manager.observe([], [], T0 + minutes(minute))
        manager.tick(T0 + minutes(minute))
    assert manager.list_alerts()[0].state == "firing"


@pytest.mark.parametrize(
    ("value", "state"),
    [(134.0, "firing"), (128.3, "firing"), (128.0, "resolved"), (None, "resolved")],
)
def test_hysteresis_uses_clear_fraction_of_the_limit(
    make_manager: Make, value: float | None, state: str
) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    values = {} if value is None else {COD: value}
    manager.observe([], [COD], T0 + minutes(1), values=values)
    assert manager.list_alerts()[0].state == state


def test_severity_upgrade_notifies_once(make_manager: Make, published: Published) -> None:
    manager = make_manager()
    manager.observe([finding(150.0, "minor", basis="hourly_mean")], [COD], T0)
    manager.observe([finding(400.0, "critical", basis="hourly_mean")], [COD], T0 + minutes(60))
    manager.observe([finding(400.0, "critical", basis="hourly_mean")], [COD], T0 + minutes(120))
    manager.deliver(T0 + minutes(120))
    assert published.names() == ["fired", "upgraded"]
    assert published.events()[-1]["severity"] == "critical"


def test_renotify_until_acknowledged(make_manager: Make, published: Published) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    for minute in range(1, 200):
        manager.tick(T0 + minutes(minute))
        if minute == 130:
            manager.ack("A-000001", "lan", "đang xử lý", T0 + minutes(minute))
    assert published.names() == ["fired", "renotify", "renotify", "acknowledged"]
    alert = manager.list_alerts()[0]
    assert (alert.acked_by, alert.ack_note) == ("lan", "đang xử lý")
    assert alert.acked_at == T0 + minutes(130)


def test_escalation_goes_to_the_escalation_route(make_manager: Make, published: Published) -> None:
    config: dict[str, Any] = {
        "channels": {
            "mqtt": {"type": "mqtt"},
            "boss": {"type": "mqtt", "prefix": "escalation/v1"},
        },
        "routes": {
            "ops": {"channels": ["mqtt"], "escalate_to": "managers"},
            "managers": {"channels": ["boss"], "escalation_only": True},
        },
        "escalation_after": "30m",
    }
    manager = make_manager(**config)
    manager.observe([MAJOR], [COD], T0)
    for minute in range(1, 40):
        manager.tick(T0 + minutes(minute))
    topics = [t for t, _, _, _ in published.calls if t.endswith("/alerts")]
    assert topics == ["quantrac/v1/kim-bai/kim-bai/alerts", "escalation/v1/kim-bai/kim-bai/alerts"]
    assert published.names() == ["fired", "escalated"]


def test_acknowledged_alert_is_not_escalated(make_manager: Make, published: Published) -> None:
    config: dict[str, Any] = {
        "channels": {"mqtt": {"type": "mqtt"}, "boss": {"type": "mqtt", "prefix": "esc"}},
        "routes": {
            "ops": {"channels": ["mqtt"], "escalate_to": "managers"},
            "managers": {"channels": ["boss"], "escalation_only": True},
        },
    }
    manager = make_manager(**config)
    manager.observe([MAJOR], [COD], T0)
    manager.ack("A-000001", "lan", None, T0 + minutes(5))
    for minute in range(6, 90):
        manager.tick(T0 + minutes(minute))
    assert published.names() == ["fired", "acknowledged"]


def test_maintenance_suppresses_with_a_record(make_manager: Make, published: Published) -> None:
    window = {
        "plant": "kim-bai",
        "station": "outlet",
        "parameters": ["cod"],
        "start": "2026-10-05T09:30:00+07:00",
        "end": "2026-10-05T11:00:00+07:00",
        "reason": "hiệu chuẩn COD",
    }
    manager = make_manager(maintenance=[window])
    manager.observe([MAJOR], [COD], T0)  # 10:00 local, inside the window
    for minute in range(1, 59):
        manager.tick(T0 + minutes(minute))
    assert published.names() == []
    alert = manager.list_alerts()[0]
    assert alert.suppressed == "hiệu chuẩn COD" and alert.state == "firing"
    events = [t["event"] for t in manager.book.transitions(alert.id)]
    assert events == ["opened", "suppressed", "fired"]
    manager.tick(T0 + minutes(61))  # window over, still breaching: now tell people
    assert published.names() == ["fired"]
    assert [t["event"] for t in manager.book.transitions(alert.id)][-1] == "unsuppressed"


def test_maintenance_does_not_cover_other_parameters(
    make_manager: Make, published: Published
) -> None:
    window = {
        "plant": "kim-bai",
        "parameters": ["ph"],
        "start": "2026-10-05T00:00:00+07:00",
        "end": "2026-10-06T00:00:00+07:00",
        "reason": "pH probe swap",
    }
    manager = make_manager(maintenance=[window])
    manager.observe([MAJOR], [COD], T0)
    manager.deliver(T0)
    assert published.names() == ["fired"]


def test_flapping_condition_is_held_firing(make_manager: Make, published: Published) -> None:
    manager = make_manager(flap_max_per_hour=2, flap_hold="15m")
    now = T0
    for _ in range(6):  # breach / clear every 2 minutes
        manager.observe([MAJOR], [COD], now)
        manager.observe([], [COD], now + minutes(1), values={COD: 100.0})
        now += minutes(2)
    manager.deliver(now)
    alerts = manager.list_alerts()
    assert len(alerts) == 2  # the second episode is held open instead of six episodes
    assert alerts[0].state == "firing" and alerts[0].flapping
    assert published.names() == ["fired", "resolved", "fired"]
    manager.tick(now + minutes(20))
    assert published.names() == ["fired", "resolved", "fired", "resolved"]


def test_ack_unknown_id_is_a_clear_error(make_manager: Make) -> None:
    manager = make_manager()
    with pytest.raises(AlertsError, match="no alert with id 'A-000042'"):
        manager.ack("A-000042", "lan", None, T0)
    with pytest.raises(AlertsError, match="bad alert id"):
        manager.ack("banana", "lan", None, T0)


def test_ack_over_mqtt(make_manager: Make, published: Published) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    payload = json.dumps({"id": "A-000001", "by": "hùng", "note": "đã kiểm tra"}).encode()
    alert = manager.handle_ack_message(
        "quantrac/v1/kim-bai/kim-bai/alerts/ack", payload, T0 + minutes(3)
    )
    assert alert.acked_by == "hùng" and alert.ack_note == "đã kiểm tra"
    manager.deliver(T0 + minutes(3))
    assert published.names() == ["fired", "acknowledged"]
    state = published.states()[-1]
    assert state["alerts"][0]["acknowledged"] is True and state["status"] == "alarm"


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("quantrac/v1/kim-bai/other/alerts/ack", b'{"id": "A-000001", "by": "x"}', "belongs to"),
        ("quantrac/v1/kim-bai/kim-bai/alerts", b'{"id": "A-000001", "by": "x"}', "not an ack"),
        ("quantrac/v1/kim-bai/kim-bai/alerts/ack", b"not json", "not JSON"),
        ("quantrac/v1/kim-bai/kim-bai/alerts/ack", b'{"id": "A-000001"}', "needs string"),
        ("quantrac/v1/kim-bai/kim-bai/alerts/ack", b'{"id": "A-000009", "by": "x"}', "no alert"),
    ],
)
def test_bad_ack_messages_are_refused(
    make_manager: Make, topic: str, payload: bytes, message: str
) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    with pytest.raises(AlertsError, match=message):
        manager.handle_ack_message(topic, payload, T0)
    assert not manager.list_alerts()[0].acknowledged


def test_retained_state_summarises_open_alerts(make_manager: Make, published: Published) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    manager.deliver(T0)
    [(topic, _, qos, retain)] = [c for c in published.calls if c[0].endswith("/state")]
    assert (topic, qos, retain) == ("quantrac/v1/kim-bai/kim-bai/state", 1, True)
    state = published.states()[0]
    assert state["firing"] == 1 and state["worst_severity"] == "major"
    assert published.calls[0][2:] == (1, False)  # the event: QoS 1, not retained


def test_alert_points_for_influx(tmp_path: Path, published: Published) -> None:
    lines: list[str] = []
    manager = AlertManager(
        AlertSettings.model_validate(MQTT_ONLY),
        [KIM_BAI],
        tmp_path,
        publish=published,
        record_points=lines.extend,
    )
    manager.observe([MAJOR], [COD], T0)
    manager.observe([], [COD], T0 + minutes(5), values={COD: 90.0})
    ns = int(T0.timestamp()) * 10**9
    assert lines[0] == (
        "alert,cluster=kim-bai,kind=exceedance,parameter=cod,plant=kim-bai,severity=major "
        f'state="firing",id="A-000001",value=220.0,limit=135.0,ratio={220.0 / 135.0!r} {ns}'
    )
    assert 'state="resolved"' in lines[-1]


def test_record_points_failure_does_not_stop_alerting(tmp_path: Path, published: Published) -> None:
    def broken(lines: list[str]) -> None:
        raise ConnectionError("influx down")

    manager = AlertManager(
        AlertSettings.model_validate(MQTT_ONLY),
        [KIM_BAI],
        tmp_path,
        publish=published,
        record_points=broken,
    )
    manager.observe([MAJOR], [COD], T0)
    manager.deliver(T0)
    assert published.names() == ["fired"]


def test_notification_leaves_within_a_second_with_workers(
    make_manager: Make, published: Published
) -> None:
    manager = make_manager()
    manager.start()
    began = time.monotonic()
    manager.observe([MAJOR], [COD], datetime.now(UTC))
    while not published.events() and time.monotonic() - began < 5:
        time.sleep(0.01)
    latency = time.monotonic() - began
    assert published.names() == ["fired"]
    assert latency < 1.0, latency


def test_alert_table_lists_alerts(make_manager: Make) -> None:
    manager = make_manager()
    manager.observe([MAJOR], [COD], T0)
    manager.ack("A-000001", "lan", None, T0 + minutes(1))
    table = render_alert_table(manager.list_alerts(open_only=True), zone="Asia/Ho_Chi_Minh")
    header, row = table.splitlines()
    assert header.split() == [
        "ID",
        "STATE",
        "SEVERITY",
        "PLANT",
        "STATION",
        "PARAMETER",
        "KIND",
        "VALUE",
        "LIMIT",
        "SINCE",
        "ACK",
    ]
    assert row.split()[:9] == [
        "A-000001",
        "firing",
        "major",
        "kim-bai",
        "outlet",
        "cod",
        "exceedance",
        "220",
        "135",
    ]
    assert "2026-10-05 10:00+0700" in row and row.endswith("lan")
    assert render_alert_table([]) == "no alerts"


def test_naive_now_is_refused(make_manager: Make) -> None:
    with pytest.raises(AlertsError, match="timezone-aware"):
        make_manager().observe([], [], datetime(2026, 1, 1))


def test_terminal_line_is_one_line_at_event_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = AlertSettings.model_validate({"channels": {"t": {"type": "terminal"}}})
    manager = AlertManager(settings, [KIM_BAI], tmp_path, lang="en")
    manager.observe([MAJOR], [COD], T0)
    manager.observe([], [COD], T0 + minutes(9), values={COD: 90.0})
    manager.deliver(T0 + minutes(9))
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "10:00:00 [ALERT] Limit exceeded: COD at outlet – Kim Bai WWTP (A-000001)"
        " | major 220/135 (1.63×)",
        "10:09:00 [RESOLVED] Limit exceeded: COD at outlet – Kim Bai WWTP (A-000001) | major",
    ]


def test_an_evaluation_reads_and_changes_only_the_plants_it_covers(
    make_manager: Make, published: Published
) -> None:
    manager = make_manager()
    other = ("other", "outlet", "cod")
    manager.observe([MAJOR, replace(MAJOR, plant="other")], [COD, other], T0)
    # a finding of `other` with only kim-bai in scope continues other's alert (no second one)
    manager.observe([replace(finding(300.0, "critical"), plant="other")], [COD], T0 + minutes(1))
    by_plant = {a.plant: a for a in manager.list_alerts()}
    assert len(manager.list_alerts()) == 2
    assert (by_plant["kim-bai"].state, by_plant["other"].severity) == ("resolved", "critical")
    manager.observe([], [other], T0 + minutes(2))
    assert {a.plant: a.state for a in manager.list_alerts()} == {
        "kim-bai": "resolved",
        "other": "resolved",
    }
