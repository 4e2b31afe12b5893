"""Scale-out: two collector instances split one stream through an MQTT 5 shared subscription,
with plants partitioned between them: no record lost or stored twice, no alert raised twice,
no plant checked by both."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from collector.errors import CollectorError
from collector.mqtt import shared
from collector.partition import Partition
from collector.payload import encode_message, encode_record
from collector.service import Collector
from quantrac.config import ConfigError, parse_config
from tests.conftest import wait_for

GOOD = {"flow_out": 60.0, "ph": 7.2, "cod": 50.0}
BREACH = {"flow_out": 60.0, "ph": 7.2, "cod": 420.0}  # COD limit 135 mg/L (B, Kq 0.9)


@pytest.mark.parametrize("instances", [1, 2, 3, 7])
def test_partition_gives_every_plant_exactly_one_owner(instances):
    plant_ids = [f"plant-{i}" for i in range(200)]
    owners = Counter(
        sum(Partition(i, instances).owns(p) for i in range(instances)) for p in plant_ids
    )
    assert owners == Counter({1: 200})
    shares = [sum(Partition(i, instances).owns(p) for p in plant_ids) for i in range(instances)]
    assert min(shares) >= 200 // instances // 2  # roughly balanced


@pytest.mark.parametrize(("instance", "instances"), [(2, 2), (-1, 2), (0, 0)])
def test_partition_rejects_bad_instance_numbers(instance, instances):
    with pytest.raises(CollectorError):
        Partition(instance, instances)


def test_partition_is_stable_across_processes():
    # crc32, not the salted built-in hash: a fixed answer for a fixed id.
    assert [Partition(i, 2).owns("kim-bai") for i in range(2)] == [True, False]


def test_service_section_carries_the_instance_numbers():
    config = parse_config({"service": {"instance": 1, "instances": 3}})
    assert (config.service.instance, config.service.instances) == (1, 3)
    with pytest.raises(ConfigError, match="instance"):
        parse_config({"service": {"instance": 3, "instances": 3}})


def test_shared_filter():
    assert shared("quantrac/v1/+/+/+/data", "qt") == "$share/qt/quantrac/v1/+/+/+/data"
    assert shared("quantrac/v1/+/+/+/data", "") == "quantrac/v1/+/+/+/data"


def _config(stack, db, state_dir, cluster, plants, client_id, share_group="qt"):
    return parse_config({
        "mqtt": {"url": stack.mqtt_url, "client_id": client_id, "share_group": share_group},
        "influx": {"url": stack.influx_url, "database": db},
        "state": {"dir": str(state_dir)},
        "plants": [{
            "id": p, "cluster": cluster, "name": p, "design_flow_m3_day": 1500,
            "regulation": "qcvn40-2011", "column": "B", "kq": 0.9, "interval": "5m",
            "stations": {"outlet": ["flow_out", "ph", "cod"]},
        } for p in plants],
        "alerts": {"channels": {"mqtt": {"type": "mqtt"}}, "min_duration": {}},
    })


def test_several_instances_need_a_share_group(stack, influx_db, tmp_path, unique_id):
    config = _config(stack, influx_db, tmp_path, unique_id, [unique_id], "c", share_group="")
    with pytest.raises(CollectorError, match="share_group"):
        Collector(config.mqtt, config.influx, config.state, config.plants, config.checks,
                  config.alerts, partition=Partition(0, 2))


@pytest.mark.integration
def test_two_instances_split_one_stream_without_loss_or_duplicate_alerts(
    stack, influx_db, tmp_path, publisher, subscribe, unique_id
):
    plants = [f"{unique_id}-{i}" for i in range(6)]
    assert {Partition(0, 2).owns(p) for p in plants} == {True, False}  # both own some
    alerts = subscribe(f"quantrac/v1/{unique_id}/+/alerts")
    collectors = []
    for i in range(2):
        config = _config(stack, influx_db, tmp_path / f"s{i}", unique_id, plants,
                         f"col-{unique_id}-{i}", share_group=f"g{unique_id}")
        collectors.append(Collector(
            config.mqtt, config.influx, config.state, config.plants, config.checks,
            config.alerts, check_every=timedelta(hours=1), partition=Partition(i, 2),
        ))
    for collector in collectors:
        collector.start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        per_plant = 30
        for k in range(per_plant):  # one breach episode per plant: records 10..19
            for plant in plants:
                values = BREACH if 10 <= k < 20 else GOOD
                record = encode_record(now - timedelta(minutes=per_plant - k), values)
                publisher.publish(f"quantrac/v1/{unique_id}/{plant}/outlet/data",
                                  encode_message([record]))
        total = per_plant * len(plants)
        stored = [c.intake.stats for c in collectors]
        assert wait_for(lambda: sum(s.records_stored for s in stored) >= total, timeout=20)
        assert all(c.wait_idle(10) for c in collectors)

        # Split: both stored a share, nothing twice, nothing lost.
        assert all(s.records_stored > 0 for s in stored)
        assert sum(s.records_stored for s in stored) == total
        assert collectors[0].store.count() == total

        def cod_events():
            return [e for e in (json.loads(p) for _, p, _ in alerts.messages)
                    if (e["parameter"], e["kind"], e["basis"])
                    == ("cod", "exceedance", "instantaneous")]

        assert wait_for(lambda: {e["plant"] for e in cod_events()} == set(plants), timeout=15)
        wait_for(lambda: False, timeout=1.0)  # a duplicate would show up by now
        # One alert per plant, fired once: had both instances alerted, there would be two.
        for plant in plants:
            items = [e for e in cod_events() if e["plant"] == plant]
            assert len({e["id"] for e in items}) == 1, plant
            assert [e["event"] for e in items].count("fired") == 1, plant
        # Each alert is in the book of its owner only.
        for i, collector in enumerate(collectors):
            owned = {p for p in plants if Partition(i, 2).owns(p)}
            assert {a.plant for a in collector.alerts.list_alerts()
                    if a.basis == "instantaneous"} == owned

        # Scheduled checks: each plant checked by exactly one instance.
        checked = [{p.id for p in c.scheduler.plants} for c in collectors]
        assert checked[0] | checked[1] == set(plants)
        assert not checked[0] & checked[1]
    finally:
        for collector in collectors:
            collector.stop()


@pytest.mark.integration
def test_the_owner_of_a_clusters_central_plant_judges_it_and_hears_its_factories(
    stack, influx_db, tmp_path, publisher, unique_id
):
    """Two instances: one owns the central plant (so the cluster), the other the factory.
    The factory's late data for a closed day reaches the cluster's owner as a cluster late
    mark (its watch), and only that instance keeps the cluster's rows."""
    central = next(f"{unique_id}-p{i}" for i in range(100) if Partition(0, 2).owns(
        f"{unique_id}-p{i}"))
    factory = next(f"{unique_id}-f{i}" for i in range(100) if Partition(1, 2).owns(
        f"{unique_id}-f{i}"))
    collectors = []
    for i in range(2):
        document = {
            "mqtt": {"url": stack.mqtt_url, "client_id": f"col-{unique_id}-{i}",
                     "share_group": f"g{unique_id}"},
            "influx": {"url": stack.influx_url, "database": influx_db},
            "state": {"dir": str(tmp_path / f"s{i}")},
            "clusters": [{"id": unique_id, "name": "C", "province": "Hà Nội",
                          "central_plant": central}],
            "plants": [{
                "id": central, "cluster": unique_id, "name": "WWTP", "design_flow_m3_day": 1500,
                "kq": 0.9, "interval": "5m",
                "stations": {"inlet": ["flow_in"], "outlet": ["flow_out", "cod"]}}, {
                "id": factory, "cluster": unique_id, "name": "F", "kind": "factory",
                "discharges_to": central, "design_flow_m3_day": 200, "interval": "5m",
                "stations": {"connection": ["flow_out", "cod"]}, "limits": {"cod": 150}}],
        }
        config = parse_config(document)
        collectors.append(Collector(
            config.mqtt, config.influx, config.state, config.plants, config.checks,
            config.alerts, check_every=timedelta(hours=1), partition=Partition(i, 2),
            clusters=config.layouts(),
        ))
    assert [[c.id for c in col.scheduler.clusters] for col in collectors] == [[unique_id], []]
    for collector in collectors:
        collector.start()
    try:
        yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        records = [encode_record(yesterday + timedelta(minutes=5 * k),
                                 {"flow_out": 8.0, "cod": 90.0}) for k in range(6)]
        publisher.publish(f"quantrac/v1/{unique_id}/{factory}/connection/data",
                          encode_message(records))
        owner, other = collectors
        assert wait_for(lambda: owner.book.take_cluster_late(unique_id) is not None, timeout=15)
        assert owner.book.take_cluster_late(unique_id) == yesterday
        assert other.book.take_cluster_late(unique_id) is None
        assert wait_for(lambda: owner.store.count(factory) == 6, timeout=15)
    finally:
        for collector in collectors:
            collector.stop()
