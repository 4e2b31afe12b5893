"""Clusters and member factories in the config: references, factory terms, layouts, limits."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from quantrac.config import ConfigError, load_config, parse_config
from rules.cluster import Cluster, cluster_layouts, reference_problems
from rules.limits import plant_limits
from rules.permit import Plant
from rules.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[2]


def plant(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "kb", "cluster": "kb", "name": "Kim Bai WWTP", "design_flow_m3_day": 1500,
        "kq": 0.9, "stations": {"inlet": ["flow_in"], "outlet": ["flow_out", "cod", "ph"]},
    }
    base.update(changes)
    return base


def factory(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "f-dyeing", "cluster": "kb", "name": "Dyeing (sample)", "kind": "factory",
        "discharges_to": "kb", "design_flow_m3_day": 200,
        "stations": {"connection": ["flow_out", "cod", "ph"]},
        "limits": {"cod": 400, "ph": {"min": 5.5, "max": 9}},  # sample connection limits
    }
    base.update(changes)
    return base


def cluster(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "kb", "name": "Cụm công nghiệp Kim Bài", "province": "Hà Nội",
        "central_plant": "kb",
        "factories": [{"id": "f-garment", "name": "Garment (sample)", "connection": "connected",
                       "declared_flow_m3_day": 120}],
    }
    base.update(changes)
    return base


def good() -> dict[str, Any]:
    return {"plants": [plant(), factory()], "clusters": [cluster()]}


def error_of(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, source="c.toml")
    return str(caught.value)


def test_a_cluster_with_metered_and_declared_members_loads() -> None:
    config = parse_config(good())
    (layout,) = config.layouts()
    assert layout.central is not None and layout.central.id == "kb"
    assert [(m.id, m.metered, m.connection) for m in layout.members] == [
        ("f-dyeing", True, "connected"), ("f-garment", False, "connected")]
    assert [p.id for p in layout.plants] == ["kb", "f-dyeing"]
    assert (layout.province, layout.timezone, layout.declared) == (
        "Hà Nội", "Asia/Ho_Chi_Minh", True)


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("clusters", 0, "central_plant"), "nowhere",
     "clusters[0].central_plant: unknown plant 'nowhere' (plants: kb, f-dyeing)"),
    (("clusters", 0, "central_plant"), "f-dyeing",
     "clusters[0].central_plant: 'f-dyeing' is a factory"),
    (("plants", 1, "discharges_to"), "nowhere",
     "plants[1].discharges_to: unknown plant 'nowhere' (plants: kb)"),
    (("plants", 1, "discharges_to"), "f-dyeing",
     "plants[1].discharges_to: discharges_to cycle: f-dyeing → f-dyeing"),
    (("plants", 1, "id"), "kb", "plants[1].id: plant id 'kb' appears twice"),
    (("clusters", 0, "factories", 0, "id"), "f-dyeing",
     "clusters[0].factories[0].id: factory id 'f-dyeing' is already a plant or factory id"),
    (("plants", 1, "limits"), {"cod": 400},
     "plants[1].limits: a factory without a regulation needs connection limits for every "
     "monitored parameter (missing: ph)"),
    (("plants", 1, "stations"), {"outlet": ["flow_out", "cod", "ph"]},
     "plants[1].stations: a factory needs a 'connection' station measuring flow_out"),
    (("plants", 1, "discharges_to"), _DELETE, None),  # own_treatment: valid
    (("plants", 1, "connection"), "not_connected",
     "plants[1].discharges_to: a factory that is not_connected discharges to no plant"),
    (("plants", 0, "discharges_to"), "kb",
     "plants[0].discharges_to: only a kind = \"factory\" entry takes this key"),
    (("plants", 1, "timezone"), "Asia/Bangkok",
     "plants[1].timezone: cluster 'kb' keeps one calendar: 'kb' is on Asia/Ho_Chi_Minh"),
    (("clusters", 0, "factories", 0, "connection"), "half", "clusters[0].factories[0].connection"),
])
def test_bad_references_name_the_field(
    path: tuple[Any, ...], value: Any, expected: str | None
) -> None:
    doc = _set(good(), path, value)
    if expected is None:
        parse_config(doc)
        return
    assert error_of(doc).startswith(f"c.toml: {expected}")


def test_a_factory_discharging_to_a_plant_of_another_cluster() -> None:
    doc = good()
    doc["plants"].append(plant(id="other", cluster="phu-nghia", name="Phu Nghia WWTP"))
    doc["plants"][1]["discharges_to"] = "other"
    assert error_of(doc) == ("c.toml: plants[1].discharges_to: 'other' is a plant of cluster "
                             "'phu-nghia', not of 'kb'")


def test_a_cycle_through_two_factories_is_named_as_a_cycle() -> None:
    doc = good()
    doc["plants"].append(factory(id="f-b", discharges_to="f-dyeing"))
    doc["plants"][1]["discharges_to"] = "f-b"
    assert error_of(doc) == ("c.toml: plants[1].discharges_to: discharges_to cycle: "
                             "f-dyeing → f-b → f-dyeing")


def test_a_central_plant_of_another_cluster_and_a_duplicate_cluster() -> None:
    doc = good()
    doc["plants"].append(plant(id="other", cluster="phu-nghia", name="Phu Nghia WWTP"))
    doc["clusters"][0]["central_plant"] = "other"
    assert error_of(doc).startswith(
        "c.toml: clusters[0].central_plant: plant 'other' belongs to cluster 'phu-nghia'")
    doc = good()
    doc["clusters"].append(cluster(factories=[]))
    assert error_of(doc) == "c.toml: clusters[1].id: cluster id 'kb' appears twice"


def test_a_factory_must_go_to_the_central_plant_its_cluster_names() -> None:
    doc = good()
    doc["plants"].append(plant(id="kb2", name="Second module"))
    doc["plants"][1]["discharges_to"] = "kb2"
    assert error_of(doc) == ("c.toml: plants[1].discharges_to: the central plant of cluster "
                             "'kb' is 'kb'")
    doc["clusters"] = []  # two plants and no entry: which one is central is not known
    assert "name its central plant in a [[clusters]] entry" in error_of(doc)
    no_wwtp = good()
    del no_wwtp["clusters"][0]["central_plant"]
    no_wwtp["plants"] = [factory()]
    assert "plants[0].discharges_to: unknown plant 'kb'" in error_of(no_wwtp)


def test_connected_needs_a_central_plant_and_regulation_may_stay() -> None:
    doc = _set(good(), ("plants", 1, "discharges_to"), _DELETE)
    doc["plants"][1]["connection"] = "connected"
    assert error_of(doc) == ("c.toml: plants[1].discharges_to: a connected factory names the "
                             "central plant it discharges to")
    # With a regulation given, the limits need not be complete: the table fills the gaps.
    partial = _set(good(), ("plants", 1, "limits"), {"cod": 400})
    partial["plants"][1]["regulation"] = "qcvn40-2011"
    parse_config(partial)


def test_plants_without_cluster_entries_form_their_own_clusters() -> None:
    plants = [Plant.model_validate(plant()),
              Plant.model_validate(plant(id="pn", cluster="pn", name="Phu Nghia"))]
    layouts = cluster_layouts([], plants)
    assert [(c.id, c.central.id if c.central else None, c.members, c.declared)
            for c in layouts] == [("kb", "kb", (), False), ("pn", "pn", (), False)]
    # ... and several plants sharing an id without an entry stay valid (no central plant).
    shared = [Plant.model_validate(plant(id=f"p{i}", cluster="bench")) for i in range(3)]
    assert reference_problems([], shared) == []
    assert cluster_layouts([], shared)[0].central is None


def test_a_cluster_without_a_wwtp_and_declared_members_only() -> None:
    entry = Cluster.model_validate(cluster(id="no-wwtp", central_plant=None))
    (layout,) = cluster_layouts([entry], [])
    assert layout.central is None and layout.plants == ()
    assert layout.members[0].declared_flow_m3_day == 120


def test_every_shipped_config_still_loads() -> None:
    configs = sorted((ROOT / "deploy").rglob("*.toml"))
    assert len(configs) >= 3  # etc (host + province) and compose
    for path in configs:
        config = load_config(path, env={})
        assert config.plants, path
        for layout in config.layouts():
            assert layout.central is not None or layout.declared, (path, layout.id)


def test_a_connected_factory_is_judged_by_the_connection_rules() -> None:
    config = parse_config(good())
    limits = plant_limits(config.plant("f-dyeing"), date(2026, 11, 2))
    cod = limits.limits["cod"]
    assert (cod.max, cod.source) == (400.0, "connection")
    assert limits.source_text("cod", Vocabulary.for_lang("vi")) == \
        "quy định đấu nối của cụm công nghiệp"
    assert limits.source_text("cod", Vocabulary.for_lang("en")) == "the cluster's connection rules"
    assert (limits.limits["ph"].min, limits.limits["ph"].source) == (5.5, "connection")
    assert [n.code for n in limits.notes if n.code == "connection_rules"] == ["connection_rules"]
    # A factory that treats and discharges itself is judged by its own permit.
    own = parse_config(_set(good(), ("plants", 1, "discharges_to"), _DELETE))
    assert plant_limits(own.plant("f-dyeing"), date(2026, 11, 2)).limits["cod"].source == \
        "permit"
    # The central plant keeps QCVN 40 (Kim Bai: 150 x 0.9 x 1.0).
    assert plant_limits(config.plant("kb"), date(2026, 11, 2)).limits["cod"].max == 135.0
