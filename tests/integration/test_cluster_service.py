"""The collector's cluster checks on the real servers: the daily job of a cluster without a
central WWTP reads its factories from InfluxDB, keeps the ledger in the check book and raises a
collection alert under the cluster id, routed to the cluster's recipients."""

from __future__ import annotations

import copy
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from collector.payload import parse_message
from collector.service import Collector
from quantrac.config import parse_config
from simulator.run import SimulateOptions, generate

pytestmark = pytest.mark.integration

PROVINCE = Path(__file__).parents[2] / "deploy/etc/quantrac/province.toml"
DAY = datetime.fromisoformat("2026-11-02T00:00:00+07:00")


def test_a_clusters_daily_job_keeps_rows_and_alerts_its_route(stack, influx_db, tmp_path,
                                                              unique_id):
    raw = tomllib.loads(PROVINCE.read_text(encoding="utf-8"))
    document = copy.deepcopy(raw) | {
        "mqtt": {"url": stack.mqtt_url, "client_id": f"col-{unique_id}"},
        "influx": {"url": stack.influx_url, "database": influx_db},
        "state": {"dir": str(tmp_path / "state")},
        "alerts": {"channels": {"b": {"type": "mqtt", "prefix": f"{unique_id}-b"},
                                "kb": {"type": "mqtt", "prefix": f"{unique_id}-kb"}},
                   "routes": {"b": {"clusters": ["mau-b"], "channels": ["b"]},
                              "kb": {"clusters": ["kim-bai"], "channels": ["kb"]}}},
    }
    config = parse_config(document, source="test")
    collector = Collector(config.mqtt, config.influx, config.state, config.plants, config.checks,
                          config.alerts, check_every=timedelta(days=1), lang="en",
                          clock=lambda: DAY + timedelta(days=1, minutes=6),
                          clusters=config.layouts())
    options = SimulateOptions(cluster="mau-b", scenario="no-central-plant", start=DAY,
                              duration=timedelta(days=1), backfill=True, seed=11)
    readings = [r for m in generate(config.plants, options, clusters=config.layouts())
                for r in parse_message(m.topic, m.payload)]
    collector.store.write(readings)
    collector.start()
    try:
        (mau_b,) = [c for c in collector.scheduler.clusters if c.id == "mau-b"]
        collector.scheduler.run_daily_cluster(mau_b)
        rows = collector.book.cluster_rows("mau-b", "2026-11-02", "2026-11-02")
        day = next(r for r in rows if r.date == "2026-11-02")
        # Two metered factories (~300 + ~120 m³/day) and a declared 90 m³/day, none collected.
        assert 350 < day.generated_m3 < 650 and day.collected_m3 == 0.0
        assert (day.collection_ratio, day.treatment_ratio, day.target_met) == (0.0, 0.0, False)
        (alert,) = collector.alerts.list_alerts()
        assert (alert.cluster, alert.plant, alert.kind) == ("mau-b", "mau-b",
                                                            "collection_shortfall")
        assert alert.explanation is not None and not alert.explanation.central
        delivered = collector.alerts.book.connection().execute(
            "SELECT channel FROM outbox").fetchall()
        assert {row[0] for row in delivered} == {"b"}  # the cluster's route, not kim-bai's
    finally:
        collector.stop()
