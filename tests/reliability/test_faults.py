"""Fault survival on the real servers, each on its own private stack: InfluxDB crash, broker
restart, collector SIGKILL, a full state disk, clock skew and late data, duplicate redelivery,
and a poison point InfluxDB rejects. Each test reports published / stored / lost / duplicated.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from collector.influx1 import InfluxV1Store
from collector.payload import encode_message, encode_record
from tests.conftest import Subscriber, wait_for
from tests.reliability.rig import (
    RobustPublisher,
    build_collector,
    collector_config,
    parse,
    publish_paced,
    records,
    start_collector_process,
    stored_figures,
    write_toml,
)

pytestmark = pytest.mark.integration
BASE = datetime(2026, 11, 10, tzinfo=UTC)
SPAN = (BASE - timedelta(days=30), BASE + timedelta(days=30))
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _topic(plant: str) -> str:
    return f"quantrac/v1/{plant}/{plant}/outlet/data"


def _times(recs: list[dict]) -> set[datetime]:
    return {datetime.fromisoformat(r["ts"]) for r in recs}


def test_influxdb_killed_mid_stream_the_spool_covers_the_gap(
    own_stack, fault_db, tmp_path, unique_id, report_figures
):
    collector = build_collector(parse(collector_config(own_stack, fault_db, tmp_path, unique_id)))
    collector.start()
    pub = RobustPublisher(own_stack.mqtt_host, own_stack.mqtt_port)
    try:
        recs = records(800, BASE)
        feeder = publish_paced(pub, _topic(unique_id),
                               [recs[i:i + 2] for i in range(0, len(recs), 2)], rate_per_s=100)
        time.sleep(1.0)
        own_stack.kill_server("influxd")  # SIGKILL, mid-stream
        assert wait_for(lambda: collector.spool.depth > 0, timeout=10), "nothing was spooled"
        time.sleep(1.0)
        own_stack.start_influxd()
        feeder.join(30)
        published = pub.wait_all()
        assert wait_for(lambda: collector.spool.depth == 0
                        and collector.store.count(unique_id) >= published, timeout=30)
        figures = stored_figures(collector.store, unique_id, *SPAN, _times(recs))
        stats = collector.intake.stats
        report_figures("influxd SIGKILL mid-stream, restarted", published=published, **figures,
                       spooled=stats.records_spooled, replayed=stats.records_replayed,
                       replay_lag_max_s=round(stats.replay_lag_max_s, 2))
        assert published == len(recs)
        assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
        assert stats.records_spooled > 0 and stats.records_replayed == stats.records_spooled
    finally:
        pub.close()
        collector.stop()


def test_broker_restarted_with_persistence_nothing_lost(
    own_stack, fault_db, tmp_path, unique_id, report_figures
):
    collector = build_collector(parse(collector_config(own_stack, fault_db, tmp_path, unique_id)))
    collector.start()
    pub = RobustPublisher(own_stack.mqtt_host, own_stack.mqtt_port)
    try:
        recs = records(600, BASE)
        feeder = publish_paced(pub, _topic(unique_id),
                               [recs[i:i + 2] for i in range(0, len(recs), 2)], rate_per_s=100)
        time.sleep(1.0)
        own_stack.stop_server("mosquitto")  # SIGTERM: the broker saves its persistence file
        time.sleep(0.5)
        own_stack.start_mosquitto()
        feeder.join(30)
        published = pub.wait_all(timeout=30)
        assert wait_for(lambda: collector.store.count(unique_id) >= published, timeout=30)
        figures = stored_figures(collector.store, unique_id, *SPAN, _times(recs))
        report_figures("broker restart (persistence on)", published=published, **figures,
                       collector_reconnected=collector.mqtt.connected.is_set())
        assert published == len(recs), "the publisher side must survive the restart too"
        assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
    finally:
        pub.close()
        collector.stop()


def test_collector_sigkilled_mid_batch_and_restarted_loses_nothing(
    own_stack, fault_db, tmp_path, unique_id, report_figures
):
    config = collector_config(own_stack, fault_db, tmp_path / "state", unique_id)
    config["service"]["flush_interval_ms"] = 200  # wider batches: the kill lands inside one
    config_path = tmp_path / "collector.toml"
    write_toml(config_path, config)
    store = InfluxV1Store(parse(config).influx)
    alerts = Subscriber(own_stack.mqtt_host, own_stack.mqtt_port,
                        f"quantrac/v1/{unique_id}/{unique_id}/alerts")
    pub = RobustPublisher(own_stack.mqtt_host, own_stack.mqtt_port)
    log_path = tmp_path / "collector.log"
    proc = start_collector_process(config_path, log_path)
    restarted: subprocess.Popen[bytes] | None = None
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        recs = records(3000, now - timedelta(seconds=3000), step=timedelta(seconds=1))
        for r in recs[1500:1510]:  # one stretch over the COD limit: one alert, not two
            r["values"]["cod"] = 400.0
        # Until the collector has subscribed, a fresh broker drops the message: resend it
        # (idempotent) until it is stored, which also proves the collector is up.
        def warm() -> bool:
            pub.publish(_topic(unique_id), recs[:1])
            return wait_for(lambda: store.count(unique_id) == 1, timeout=0.5)

        assert wait_for(warm, timeout=30), log_path.read_text()[-2000:]
        feeder = publish_paced(pub, _topic(unique_id),
                               [recs[i:i + 10] for i in range(1, len(recs), 10)],
                               rate_per_s=100)
        time.sleep(1.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stored_at_kill = store.count(unique_id)
        time.sleep(0.5)
        restarted = start_collector_process(config_path, log_path)
        feeder.join(30)
        published = pub.wait_all()
        assert wait_for(lambda: store.count(unique_id) >= published, timeout=30), (
            store.count(unique_id), published, log_path.read_text()[-2000:])
        figures = stored_figures(store, unique_id, now - timedelta(days=1),
                                 now + timedelta(days=1), _times(recs))
        events = [json.loads(p) for _, p, _ in alerts.messages]
        keys = [(e["id"], e["event"]) for e in events]
        cod_alerts = {e["id"] for e in events
                      if e["parameter"] == "cod" and e["kind"] == "exceedance"}
        report_figures("collector SIGKILL mid-batch, restarted", published=published, **figures,
                       stored_at_kill=stored_at_kill, alert_events=len(keys),
                       duplicate_notifications=len(keys) - len(set(keys)),
                       cod_alerts=len(cod_alerts))
        assert 1 < stored_at_kill < published, "the kill must land mid-stream"
        assert published == len(recs)
        assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
        assert len(keys) == len(set(keys)), f"duplicate notifications: {keys}"
        assert len(cod_alerts) == 1, events
    finally:
        for p in (proc, restarted):
            if p is not None and p.poll() is None:
                p.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(20)
                if p.poll() is None:
                    p.kill()
        pub.close()
        alerts.close()
        store.close()


def test_state_disk_full_holds_acks_with_an_alarm_and_corrupts_nothing(
    own_stack, fault_db, tmp_path, unique_id, report_figures
):
    """The state dir on a 4 MiB tmpfs, InfluxDB down: the spool fills the disk."""
    state = tmp_path / "tiny"
    state.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(state)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); "
                    "tests/collector/test_spool.py covers disk full with a failing connection")
    collector = None
    pub = RobustPublisher(own_stack.mqtt_host, own_stack.mqtt_port)
    try:
        config = collector_config(own_stack, fault_db, state, unique_id)
        config["state"]["spool_max_mb"] = 100  # the disk fills long before the spool limit
        collector = build_collector(parse(config))
        collector.start()
        collector.intake.retry_interval = 0.3
        acked: list[int] = []
        real_ack = collector.intake._ack

        def counting_ack(messages):  # the intake acknowledges a durable batch at once
            acked.extend(message.mid for message in messages)
            real_ack(messages)

        collector.intake._ack = counting_ack
        own_stack.stop_server("influxd")
        recs = records(40000, BASE)
        for i in range(0, len(recs), 50):
            pub.publish(_topic(unique_id), recs[i:i + 50])
        assert wait_for(lambda: "full" in collector.intake.stats.spool_alarm, timeout=30), (
            collector.intake.stats)
        spooled_when_full = collector.spool.depth
        alarm_when_full = collector.intake.stats.spool_alarm
        time.sleep(1.0)
        # Acknowledged = durable: only what the spool holds, the rest waits at the broker.
        assert wait_for(lambda: len(acked) * 50 == collector.spool.depth, timeout=5)
        acked_while_full = len(acked) * 50  # records per message
        assert 0 < spooled_when_full < len(recs), "the spool should have filled the disk"
        own_stack.start_influxd()
        published = pub.wait_all(timeout=60)
        assert wait_for(lambda: collector.store.count(unique_id) >= published
                        and collector.spool.depth == 0, timeout=60)
        figures = stored_figures(collector.store, unique_id, *SPAN, _times(recs))
        integrity = sqlite3.connect(state / "spool.sqlite").execute(
            "PRAGMA integrity_check").fetchone()[0]
        report_figures("state disk full (4 MiB tmpfs) while InfluxDB down",
                       published=published, **figures, spooled_when_full=spooled_when_full,
                       acked_while_full=acked_while_full, alarm=alarm_when_full[:28],
                       spool_integrity=integrity)
        assert published == len(recs)
        assert (figures["lost"], figures["duplicated"], figures["unexpected"]) == (0, 0, 0)
        assert integrity == "ok"
        assert "disk" in alarm_when_full
        assert spooled_when_full <= acked_while_full < len(recs)
    finally:
        pub.close()
        if collector is not None:
            collector.stop()
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_clock_skew_out_of_order_and_late_records_are_stored_at_their_own_time(
    own_stack, fault_db, tmp_path, unique_id, report_figures, publisher_factory
):
    collector = build_collector(parse(collector_config(own_stack, fault_db, tmp_path, unique_id)))
    collector.start()
    pub = publisher_factory(own_stack)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        skewed = records(20, now + timedelta(hours=2))  # a station clock 2 h fast
        late = records(200, now - timedelta(days=3))  # a datalogger catching up after 3 days
        ordinary = records(50, now - timedelta(minutes=10))
        mixed = skewed + late + ordinary
        order = sorted(range(len(mixed)), key=lambda i: (i * 7919) % len(mixed))  # shuffled
        for i in order:
            pub.publish(_topic(unique_id), encode_message([mixed[i]]))
        # The same instants in other notations are the same points (no duplicates).
        for r in ordinary[:10]:
            ts = datetime.fromisoformat(r["ts"])
            epoch_ms = int(ts.timestamp() * 1000)
            pub.publish(_topic(unique_id), encode_message([{**r, "ts": epoch_ms}]))
            local = ts.astimezone(ZONE).isoformat()
            pub.publish(_topic(unique_id), encode_message([{**r, "ts": local}]))
        expected = _times(mixed)
        assert wait_for(lambda: collector.store.count(unique_id) >= len(expected), timeout=20)
        collector.wait_idle(5)
        figures = stored_figures(collector.store, unique_id, now - timedelta(days=4),
                                 now + timedelta(days=1), expected)
        late_mark = collector.book.take_late(unique_id)
        report_figures("clock skew +2 h, 3-day-late backfill, shuffled order",
                       published=len(mixed), **figures, late_marked=late_mark is not None)
        assert (figures["stored"], figures["lost"], figures["duplicated"]) == (len(mixed), 0, 0)
        assert figures["unexpected"] == 0
        assert late_mark is not None and late_mark <= now - timedelta(days=3) + timedelta(minutes=1)
        frame = collector.store.read_frame(unique_id, now - timedelta(days=4),
                                           now + timedelta(days=1))
        first = datetime.fromisoformat(late[0]["ts"])
        assert frame.loc[frame["time"] == first, "cod"].iloc[0] == late[0]["values"]["cod"]
    finally:
        pub.close()
        collector.stop()


def test_duplicate_redelivery_is_stored_once_and_notified_once(
    own_stack, fault_db, tmp_path, unique_id, report_figures, publisher_factory
):
    config = parse(collector_config(own_stack, fault_db, tmp_path, unique_id))
    alerts = Subscriber(own_stack.mqtt_host, own_stack.mqtt_port,
                        f"quantrac/v1/{unique_id}/{unique_id}/alerts")
    pub = publisher_factory(own_stack)
    collector = build_collector(config)
    collector.start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        recs = [encode_record(now - timedelta(minutes=30 - i), {"ph": 7.0, "cod": 420.0 + i})
                for i in range(30)]
        topic = _topic(unique_id)
        for _ in range(3):  # a station that resends each record three times
            for r in recs[:10]:
                pub.publish(topic, encode_message([r]))
        pub.publish(topic, encode_message(recs[:20]))  # an overlapping backfill array
        assert wait_for(lambda: collector.store.count(unique_id) == 20, timeout=20)
        collector.wait_idle(5)
        # Restart (same client id, same state) and receive everything again.
        collector.stop()
        collector = build_collector(config)
        collector.start()
        pub.publish(topic, encode_message(recs))
        assert wait_for(lambda: collector.store.count(unique_id) == 30, timeout=20)
        collector.wait_idle(5)
        time.sleep(1.0)  # let any (wrong) extra notification arrive
        figures = stored_figures(collector.store, unique_id, now - timedelta(days=1),
                                 now + timedelta(days=1), _times(recs))
        events = [json.loads(p) for _, p, _ in alerts.messages]
        keys = [(e["id"], e["event"]) for e in events]
        cod = {e["id"] for e in events if e["parameter"] == "cod" and e["kind"] == "exceedance"}
        report_figures("duplicate redelivery (x3, overlapping backfill, restart)",
                       published=len(recs), copies_sent=10 * 3 + 20 + 30, **figures,
                       messages_after_restart=collector.intake.stats.messages,
                       alert_events=len(keys), duplicate_notifications=len(keys) - len(set(keys)))
        assert (figures["stored"], figures["lost"], figures["duplicated"]) == (30, 0, 0)
        assert len(cod) == 1 and len(keys) == len(set(keys)), keys
    finally:
        pub.close()
        alerts.close()
        collector.stop()


def test_a_point_influxdb_rejects_is_isolated_into_dead_letters(
    own_stack, fault_db, tmp_path, unique_id, report_figures, publisher_factory
):
    """A field type conflict (ph already an integer in one shard) poisons one record of a
    backfill array: that record lands in dead letters, the other nine are stored."""
    week_w = BASE + timedelta(days=70)
    poison = ("reading,cluster=legacy,plant=legacy,station=outlet ph=7i "
              f"{int(week_w.timestamp()) * 10**9}")
    response = requests.post(f"{own_stack.influx_url}/write", params={"db": fault_db},
                             data=poison, timeout=10)
    assert response.status_code == 204, response.text
    collector = build_collector(parse(collector_config(own_stack, fault_db, tmp_path, unique_id)))
    collector.start()
    pub = publisher_factory(own_stack)
    try:
        recs = records(9, BASE, step=timedelta(days=1))
        bad = encode_record(week_w + timedelta(minutes=5), {"ph": 7.2, "cod": 50.0}, seq=99)
        pub.publish(_topic(unique_id), encode_message([*recs[:4], bad, *recs[4:]]))
        assert wait_for(lambda: collector.deadletters.count() == 1, timeout=20)
        assert wait_for(lambda: collector.store.count(unique_id) == 9, timeout=20)
        letter = collector.deadletters.latest()[0]
        figures = stored_figures(collector.store, unique_id, BASE - timedelta(days=1),
                                 BASE + timedelta(days=100), _times(recs))
        report_figures("InfluxDB 400 field type conflict in a batch of 10", published=10,
                       **figures, dead_letters=collector.deadletters.count())
        assert letter.topic == "influxdb-rejected"
        assert "field type conflict" in letter.reason
        assert b"ph=7.2" in letter.payload
        assert (figures["stored"], figures["lost"], figures["duplicated"]) == (9, 0, 0)
    finally:
        pub.close()
        collector.stop()
