"""The collector service end to end on the real servers: ingest, inline alert on the SPEC
alerts topic, acknowledgement over MQTT, scheduled hourly check with late-data correction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from collector.payload import encode_message, encode_record
from collector.service import Collector
from quantrac.config import parse_config
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _config(stack, db, state_dir, plant_id):
    return parse_config({
        "mqtt": {"url": stack.mqtt_url, "client_id": f"col-{plant_id}"},
        "influx": {"url": stack.influx_url, "database": db},
        "state": {"dir": str(state_dir)},
        "plants": [{
            "id": plant_id, "cluster": plant_id, "name": "Test plant", "design_flow_m3_day": 1500,
            "regulation": "qcvn40-2011", "column": "B", "kq": 0.9, "interval": "5m",
            "stations": {"outlet": ["flow_out", "ph", "cod"]},
        }],
        "alerts": {"channels": {"mqtt": {"type": "mqtt"}}, "min_duration": {}},
    })


def _collector(config, clock=None):
    kwargs = {"clock": clock} if clock else {}
    return Collector(config.mqtt, config.influx, config.state, config.plants, config.checks,
                     config.alerts, check_every=timedelta(seconds=3600), **kwargs)


def test_cod_exceedance_becomes_one_alert_on_the_alerts_topic(
    stack, influx_db, tmp_path, publisher, subscribe, unique_id
):
    config = _config(stack, influx_db, tmp_path / "state", unique_id)
    alerts = subscribe(f"quantrac/v1/{unique_id}/{unique_id}/alerts")
    state = subscribe(f"quantrac/v1/{unique_id}/{unique_id}/state")
    collector = _collector(config)
    collector.start()
    try:
        topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
        now = datetime.now(UTC).replace(microsecond=0)
        for i, cod in enumerate([60.0, 70.0, 420.0, 430.0]):
            record = encode_record(now - timedelta(minutes=5 * (3 - i)),
                                   {"flow_out": 60.0, "ph": 7.2, "cod": cod})
            publisher.publish(topic, encode_message([record]))
        def cod_events():
            return [e for e in (json.loads(p) for _, p, _ in alerts.messages)
                    if e.get("parameter") == "cod" and e.get("kind") == "exceedance"]

        assert wait_for(lambda: len(cod_events()) >= 1, timeout=15)
        assert cod_events()[0]["limit"] == 135.0
        assert cod_events()[0]["value"] >= 420.0
        assert wait_for(lambda: len(state.messages) >= 1)
        assert wait_for(lambda: collector.store.count(unique_id) == 4)
        opened = [a for a in collector.alerts.list_alerts(open_only=True) if a.kind == "exceedance"]
        assert [(a.parameter, a.kind) for a in opened] == [("cod", "exceedance")]
        # Acknowledge over MQTT on the documented topic.
        publisher.publish(f"quantrac/v1/{unique_id}/{unique_id}/alerts/ack",
                          json.dumps({"id": opened[0].id, "by": "operator-1",
                                      "note": "dosing fixed"}).encode())
        assert wait_for(lambda: collector.alerts.book.get(opened[0].id).acked_by == "operator-1")
    finally:
        collector.stop()


def test_scheduled_check_catches_hourly_exceedance_and_corrects_late_data(
    stack, influx_db, tmp_path, publisher, unique_id
):
    config = _config(stack, influx_db, tmp_path / "state", unique_id)
    plant = config.plants[0]
    hour = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi
    clock_now = [hour + timedelta(hours=2)]
    collector = _collector(config, clock=lambda: clock_now[0])
    collector.start()
    try:
        topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
        # Hour 1: compliant, complete. Hour 2: only 4 of 12 readings (link outage).
        records = [encode_record(hour + timedelta(minutes=5 * i),
                                 {"flow_out": 60.0, "ph": 7.0, "cod": 50.0}) for i in range(12)]
        records += [encode_record(hour + timedelta(hours=1, minutes=5 * i),
                                  {"flow_out": 60.0, "ph": 7.0, "cod": 200.0}) for i in range(4)]
        publisher.publish(topic, encode_message(records))
        assert wait_for(lambda: collector.store.count(unique_id) == 16)
        # The inline thread marks records of already judged hours as late.
        assert wait_for(lambda: collector.book.take_late(unique_id) is not None)
        result = collector.scheduler.check_plant(plant, clock_now[0])
        kinds = {(f.parameter, f.kind, f.basis) for f in result.findings}
        assert ("cod", "insufficient_data", "hourly_mean") in kinds
        assert ("cod", "exceedance", "hourly_mean") not in kinds
        # The datalogger catches up: the rest of hour 2 arrives late, as one backfill array.
        late = [encode_record(hour + timedelta(hours=1, minutes=5 * i),
                              {"flow_out": 60.0, "ph": 7.0, "cod": 200.0}) for i in range(4, 12)]
        publisher.publish(topic, encode_message(late))
        assert wait_for(lambda: collector.store.count(unique_id) == 24)
        assert wait_for(lambda: collector.book.take_late(unique_id) is not None)
        clock_now[0] += timedelta(minutes=1)
        result = collector.scheduler.check_plant(plant, clock_now[0])
        kinds = {(f.parameter, f.kind, f.basis) for f in result.findings}
        assert ("cod", "exceedance", "hourly_mean") in kinds
        stored = [row for row in collector.book.findings(unique_id)
                  if row[1] == "cod" and row[3] == "hourly_mean"]
        # Corrected, not duplicated: one exceedance, no stale insufficient_data for that hour.
        assert [row[2] for row in stored] == ["exceedance"]
    finally:
        collector.stop()


def test_health_and_metrics_endpoints(stack, influx_db, tmp_path, publisher, unique_id):
    import requests

    config = _config(stack, influx_db, tmp_path / "state", unique_id)
    collector = Collector(config.mqtt, config.influx, config.state, config.plants, config.checks,
                          config.alerts, check_every=timedelta(hours=1), http=("127.0.0.1", 0))
    collector.start()
    try:
        base = f"http://127.0.0.1:{collector.health_server.port}"
        health = requests.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["broker"] is True
        topic = f"quantrac/v1/{unique_id}/{unique_id}/outlet/data"
        publisher.publish(topic, encode_message([encode_record(
            datetime.now(UTC), {"flow_out": 60.0, "ph": 7.0, "cod": 50.0})]))
        assert wait_for(lambda: collector.store.count(unique_id) == 1)
        def metrics() -> str:
            return requests.get(f"{base}/metrics", timeout=5).text

        # The counter moves just after the write InfluxDB already answers for.
        assert wait_for(lambda: "quantrac_records_stored_total 1" in metrics())
        text = metrics()
        assert f'quantrac_station_last_seen_seconds{{plant="{unique_id}",station="outlet"}}' in text
        assert 'quantrac_write_seconds_bucket{le="+Inf"} 1' in text
    finally:
        collector.stop()
