"""A windowed finding judged after the per-reading check resolved the same breach belongs to
that episode: no second alert, no second notification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.manager import AlertManager
from alerts.settings import AlertSettings
from rules.findings import Finding
from rules.permit import Plant

PLANT = Plant(id="kb", cluster="kb", name="KB", design_flow_m3_day=1500, kq=0.9,
              stations={"outlet": ["cod"]})
T0 = datetime(2026, 11, 20, 3, 10, tzinfo=UTC)


def _finding(start, end, basis, value=260.0):
    return Finding("kb", "outlet", "cod", "exceedance", basis, start, end, value, 135.0,
                   value / 135.0, "major")


def test_hourly_mean_after_the_resolved_spike_does_not_open_a_second_alert(tmp_path):
    manager = AlertManager(AlertSettings(channels={"terminal": {"type": "terminal"}},
                                         min_duration={}), [PLANT], tmp_path)
    key = [("kb", "outlet", "cod")]
    try:
        manager.observe([_finding(T0, T0, "instantaneous")], key, T0,
                        values={key[0]: 260.0}, bases={"instantaneous"})
        end = T0 + timedelta(minutes=50)
        manager.observe([_finding(end, end, "instantaneous")], key, end,
                        values={key[0]: 250.0}, bases={"instantaneous"})
        cleared = end + timedelta(minutes=5)
        manager.observe([], key, cleared, values={key[0]: 50.0}, bases={"instantaneous"})
        manager.tick(cleared + timedelta(minutes=30))
        hour = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
        manager.observe([_finding(hour, hour + timedelta(hours=1), "hourly_mean", 190.0)],
                        key, hour + timedelta(hours=1, minutes=10), bases={"hourly_mean"})
        alerts = manager.list_alerts()
        assert len(alerts) == 1 and alerts[0].state == "resolved"
        events = [t["event"] for t in manager.book.transitions(alerts[0].id)]
        assert "merged" in events
        # A breach that starts after the episode's data ended is a new episode.
        later = hour + timedelta(hours=3)
        manager.observe([_finding(later, later + timedelta(hours=1), "hourly_mean", 190.0)],
                        key, later + timedelta(hours=1, minutes=10), bases={"hourly_mean"})
        assert len(manager.list_alerts()) == 2
    finally:
        manager.close()


def test_fired_counts_match_fired_since_per_key(tmp_path):
    manager = AlertManager(AlertSettings(channels={"terminal": {"type": "terminal"}},
                                         min_duration={}), [PLANT], tmp_path)
    try:
        for i, parameter in enumerate(["cod", "cod", "tss"]):
            at = T0 + timedelta(minutes=10 * i)
            finding = Finding("kb", "outlet", parameter, "exceedance", "instantaneous", at, at,
                              300.0, 135.0, 2.2, "major")
            manager.observe([finding], [("kb", "outlet", parameter)], at)
            manager.observe([], [("kb", "outlet", parameter)], at + timedelta(minutes=1),
                            values={("kb", "outlet", parameter): 10.0})
            manager.tick(at + timedelta(minutes=5))
        since = T0 - timedelta(minutes=1)
        with manager.book.transaction() as conn:
            counts = manager.book.fired_counts(conn, since)
            for parameter in ("cod", "tss"):
                key = ("kb", "outlet", parameter, "exceedance")
                assert counts.get(key, 0) == manager.book.fired_since(conn, key, since)
            assert counts[("kb", "outlet", "cod", "exceedance")] >= 1
    finally:
        manager.close()
