"""Alerts against the real Mosquitto and influxd of the test session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from alerts.manager import AlertManager
from alerts.settings import AlertSettings
from rules.permit import Plant
from tests.alerts.conftest import T0, finding
from tests.conftest import Publisher, wait_for

pytestmark = pytest.mark.integration


def plant(cluster: str) -> Plant:
    return Plant(
        id="kim-bai",
        cluster=cluster,
        name="Kim Bai WWTP",
        design_flow_m3_day=1500,
        stations={"outlet": ["cod"]},
    )


def test_events_and_retained_state_over_real_mqtt(
    tmp_path: Path, stack: Any, publisher: Publisher, subscribe: Any, unique_id: str
) -> None:
    events = subscribe(f"quantrac/v1/{unique_id}/kim-bai/alerts")
    settings = AlertSettings.model_validate({"channels": {"bus": {"type": "mqtt"}}})
    manager = AlertManager(settings, [plant(unique_id)], tmp_path, publish=publisher.publish)
    manager.start()
    try:
        manager.observe([finding(220.0, "major")], [("kim-bai", "outlet", "cod")], T0)
        assert wait_for(lambda: len(events.messages) >= 1, timeout=10)
    finally:
        manager.close()
    _, payload, retained = events.messages[0]
    event = json.loads(payload)
    assert (event["event"], event["id"], event["cluster"], retained) == (
        "fired",
        "A-000001",
        unique_id,
        False,
    )
    late = subscribe(f"quantrac/v1/{unique_id}/kim-bai/state")  # joins after the fact
    assert wait_for(lambda: len(late.messages) >= 1, timeout=10)
    _, state_payload, state_retained = late.messages[0]
    state = json.loads(state_payload)
    assert state_retained and state["status"] == "alarm" and state["alerts"][0]["id"] == "A-000001"


def test_alert_points_land_in_real_influxdb(tmp_path: Path, stack: Any, influx_db: str) -> None:
    def write(lines: list[str]) -> None:
        response = requests.post(
            f"{stack.influx_url}/write",
            params={"db": influx_db},
            data="\n".join(lines).encode(),
            timeout=10,
        )
        response.raise_for_status()

    settings = AlertSettings.model_validate({"channels": {}})
    manager = AlertManager(settings, [plant("kim-bai")], tmp_path, record_points=write)
    manager.observe([finding(220.0, "major")], [("kim-bai", "outlet", "cod")], T0)
    response = requests.get(
        f"{stack.influx_url}/query",
        params={"db": influx_db, "q": "SELECT * FROM alert"},
        timeout=10,
    )
    series = response.json()["results"][0]["series"][0]
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert row["id"] == "A-000001" and row["state"] == "firing"
    assert row["plant"] == "kim-bai" and row["severity"] == "major" and row["limit"] == 135.0
