"""The pure state machine, table-driven: observation sequences → states and notifications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from alerts.alert import Alert
from alerts.lifecycle import Context, on_ack, on_breach, on_clear, on_tick
from alerts.settings import AlertSettings
from tests.alerts.conftest import T0, finding, minutes

SETTINGS = AlertSettings()


def run(
    script: list[tuple[Any, ...]], settings: AlertSettings = SETTINGS
) -> tuple[Alert | None, list[str], list[str]]:
    """Apply (minute, op, arg) steps to one alert; returns it, events recorded, notifications."""
    alert: Alert | None = None
    events: list[str] = []
    notified: list[str] = []
    for minute, op, *args in script:
        ctx_args: dict[str, Any] = {}
        if op in ("breach", "tick") and args and isinstance(args[-1], dict):
            ctx_args = args[-1]
            args = args[:-1]
        ctx = Context(now=T0 + minutes(minute), settings=settings, **ctx_args)
        if op == "breach":
            step = on_breach(alert, args[0], "kim-bai", ctx)
        elif op == "clear":
            value = args[0] if args else None
            bases = args[1] if len(args) > 1 else None
            assert alert is not None
            step = on_clear(alert, bases, value, ctx)
        elif op == "tick":
            assert alert is not None
            step = on_tick(alert, ctx)
        elif op == "ack":
            assert alert is not None
            step = on_ack(alert, "lan", None, ctx)
        else:
            raise AssertionError(op)
        if step.alert is not None:
            alert = step.alert.evolve(id=alert.id if alert and alert.id else "A-000001")
        events += [t.event for t in step.transitions]
        notified += list(step.notify)
    return alert, events, notified


CASES = [
    (
        "minor instantaneous waits min duration then fires once",
        [(0, "breach", finding()), (1, "tick"), (4, "tick"), (5, "tick"), (6, "tick")],
        "firing",
        ["fired"],
    ),
    (
        "major fires at once",
        [(0, "breach", finding(220.0, "major"))],
        "firing",
        ["fired"],
    ),
    (
        "hourly mean fires at once (the window is the duration)",
        [(0, "breach", finding(basis="hourly_mean"))],
        "firing",
        ["fired"],
    ),
    (
        "cleared while pending: no notification at all",
        [(0, "breach", finding()), (2, "clear", 100.0), (10, "tick")],
        "resolved",
        [],
    ),
    (
        "fire then clear notifies resolved",
        [(0, "breach", finding(220.0, "major")), (3, "clear", 100.0)],
        "resolved",
        ["fired", "resolved"],
    ),
    (
        "hysteresis: 130 is under 135 but over 0.95*135, stays firing",
        [(0, "breach", finding(220.0, "major")), (3, "clear", 130.0), (4, "tick")],
        "firing",
        ["fired"],
    ),
    (
        "hysteresis then a real clear",
        [(0, "breach", finding(220.0, "major")), (3, "clear", 130.0), (4, "clear", 120.0)],
        "resolved",
        ["fired", "resolved"],
    ),
    (
        "severity upgrade notifies, downgrade does not",
        [
            (0, "breach", finding(150.0, "minor", basis="hourly_mean")),
            (5, "breach", finding(300.0, "major", basis="hourly_mean")),
            (10, "breach", finding(150.0, "minor", basis="hourly_mean")),
        ],
        "firing",
        ["fired", "upgraded"],
    ),
    (
        "renotify after 1h, then hourly, never before",
        [
            (0, "breach", finding(220.0, "major")),
            (30, "tick"),
            (59, "tick"),
            (60, "tick"),
            (90, "tick"),
            (120, "tick"),
        ],
        "firing",
        ["fired", "renotify", "renotify"],
    ),
    (
        "acknowledged: no renotify, still resolves",
        [
            (0, "breach", finding(220.0, "major")),
            (10, "ack"),
            (70, "tick"),
            (130, "tick"),
            (140, "clear", 100.0),
        ],
        "resolved",
        ["fired", "acknowledged", "resolved"],
    ),
    (
        "escalation after 30 min when a route has one",
        [
            (0, "breach", finding(220.0, "major")),
            (29, "tick", {"can_escalate": True}),
            (30, "tick", {"can_escalate": True}),
            (45, "tick", {"can_escalate": True}),
        ],
        "firing",
        ["fired", "escalated"],
    ),
    (
        "no escalation without an escalation route",
        [(0, "breach", finding(220.0, "major")), (30, "tick"), (45, "tick")],
        "firing",
        ["fired"],
    ),
    (
        "maintenance: recorded, not notified, announced when the window ends",
        [
            (0, "breach", finding(220.0, "major"), {"maintenance": "calibration"}),
            (10, "tick", {"maintenance": "calibration"}),
            (20, "tick"),
        ],
        "firing",
        ["fired"],
    ),
    (
        "maintenance: episode over inside the window, never notified",
        [
            (0, "breach", finding(220.0, "major"), {"maintenance": "calibration"}),
            (10, "clear", 100.0),
        ],
        "resolved",
        [],
    ),
    (
        "no_data clears on data (in scope), whatever bases the evaluation had",
        [
            (0, "breach", finding(None, "warning", kind="no_data", limit=None)),
            (30, "tick"),
            (40, "clear", None, {"instantaneous"}),
        ],
        "resolved",
        ["fired", "resolved"],
    ),
    (
        "an instantaneous check cannot clear an hourly-mean alert",
        [(0, "breach", finding(basis="hourly_mean")), (5, "clear", 100.0, {"instantaneous"})],
        "firing",
        ["fired"],
    ),
    (
        "both bases breached: clears only when both cleared",
        [
            (0, "breach", finding(basis="hourly_mean")),
            (1, "breach", finding()),
            (5, "clear", 100.0, {"instantaneous"}),
            (6, "tick"),
            (60, "clear", 100.0, {"hourly_mean"}),
        ],
        "resolved",
        ["fired", "resolved"],
    ),
    (
        "flapping: resolution held until clear for flap_hold",
        [
            (0, "breach", finding(220.0, "major"), {"flapping": True}),
            (1, "clear", 100.0),
            (10, "tick"),
            (16, "tick"),
        ],
        "resolved",
        ["fired", "resolved"],
    ),
    (
        "flapping: a breach during the hold keeps the same alert firing",
        [
            (0, "breach", finding(220.0, "major"), {"flapping": True}),
            (1, "clear", 100.0),
            (5, "breach", finding(220.0, "major")),
            (10, "clear", 100.0),
            (20, "tick"),
            (25, "tick"),
        ],
        "resolved",
        ["fired", "resolved"],
    ),
]


@pytest.mark.parametrize(("name", "script", "state", "notified"), CASES, ids=[c[0] for c in CASES])
def test_lifecycle(
    name: str, script: list[tuple[Any, ...]], state: str, notified: list[str]
) -> None:
    alert, _, got = run(script)
    assert alert is not None
    assert alert.state == state
    assert got == notified


def test_transitions_are_recorded_in_order() -> None:
    _, events, _ = run([(0, "breach", finding()), (5, "tick"), (6, "clear", 100.0)])
    assert events == ["opened", "fired", "resolved"]


def test_flapping_hold_resolves_at_hold_boundary() -> None:
    alert, _, _ = run(
        [
            (0, "breach", finding(220.0, "major"), {"flapping": True}),
            (1, "clear", 100.0),
            (15, "tick"),
        ]
    )
    assert alert is not None and alert.state == "firing"
    alert, _, _ = run(
        [
            (0, "breach", finding(220.0, "major"), {"flapping": True}),
            (1, "clear", 100.0),
            (16, "tick"),
        ]
    )
    assert alert is not None and alert.state == "resolved"


def test_below_minimum_hysteresis() -> None:
    low = finding(5.0, "major", kind="below_minimum", parameter="ph", limit=5.5)
    alert, _, _ = run([(0, "breach", low), (1, "clear", 5.6)])
    assert alert is not None and alert.state == "firing"  # 5.6 < 5.5 * 1.05
    alert, _, _ = run([(0, "breach", low), (1, "clear", 6.0)])
    assert alert is not None and alert.state == "resolved"


def test_backfilled_breach_spanning_min_duration_fires_at_once() -> None:
    long = finding(start=T0 - minutes(20), end=T0)
    alert, _, notified = run([(0, "breach", long)])
    assert alert is not None and alert.state == "firing" and notified == ["fired"]


def test_custom_min_duration() -> None:
    settings = AlertSettings(min_duration={"exceedance": "0s"})
    alert, _, notified = run([(0, "breach", finding())], settings)
    assert alert is not None and alert.state == "firing" and notified == ["fired"]


def test_upgrade_to_major_while_pending_fires_immediately() -> None:
    alert, _, notified = run([(0, "breach", finding()), (1, "breach", finding(300.0, "major"))])
    assert alert is not None and alert.state == "firing"
    assert notified == ["fired"]
    assert alert.severity == "major"
    assert alert.value == 300.0


def test_now_is_used_not_the_clock() -> None:
    far = datetime(2030, 1, 1, tzinfo=T0.tzinfo)
    alert, _, _ = run([(0, "breach", finding(220.0, "major"))])
    assert alert is not None
    assert alert.fired_at == T0 and alert.fired_at < far
    assert alert.opened_at + timedelta(0) == T0
