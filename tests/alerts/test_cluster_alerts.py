"""Collection findings in the alert book: routed to the cluster's recipients (also when the
cluster has no central plant and the finding names the cluster id), their explanation kept
and told in the message's language."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alerts.manager import AlertManager
from alerts.messages import Messages
from alerts.settings import AlertSettings
from rules.cluster import Cluster, cluster_layouts
from rules.findings import CollectionNote, Finding
from rules.permit import Plant
from tests.alerts.conftest import KIM_BAI, T0, Published

NOTE = CollectionNote(generated_m3=410.0, metered_m3=320.0, declared_m3=90.0, collected_m3=0.0,
                      central=False, unconnected=(("mb-giay", 90.0),))
FACTORY = Plant(id="mb-bia", cluster="mau-b", name="Bia B", design_flow_m3_day=300,
                kind="factory", connection="not_connected", limits={"cod": 150},
                stations={"connection": ["flow_out", "cod"]})
MAU_B = Cluster(id="mau-b", name="Cụm công nghiệp mẫu B", province="Hà Nội",
                factories=({"id": "mb-giay", "name": "Giấy", "connection": "not_connected",
                            "declared_flow_m3_day": 90},))  # type: ignore[arg-type]
SETTINGS = {
    "channels": {"kb": {"type": "mqtt", "prefix": "kb-ops"},
                 "b": {"type": "mqtt", "prefix": "b-ops"}},
    "routes": {"kim-bai": {"plants": ["kim-bai"], "channels": ["kb"]},
               "cluster-b": {"clusters": ["mau-b"], "channels": ["b"]}},
}


def shortfall() -> Finding:
    return Finding("mau-b", "network", "collection_ratio", "collection_shortfall", "day", T0,
                   T0 + timedelta(days=1), 0.0, 1.0, 0.0, "major", note="(en)", explanation=NOTE)


def manager(tmp_path: Path, published: Published) -> AlertManager:
    return AlertManager(AlertSettings.model_validate(SETTINGS), [KIM_BAI, FACTORY],
                        tmp_path / "state", publish=published,
                        clusters=cluster_layouts([MAU_B], [KIM_BAI, FACTORY]))


def test_a_cluster_without_central_plant_reaches_its_clusters_route(tmp_path, published):
    alerts = manager(tmp_path, published)
    try:
        alerts.observe([shortfall()], [("mau-b", "network", "collection_ratio")], T0, bases={"day"})
        alerts.deliver(T0 + timedelta(seconds=1))
    finally:
        alerts.close()
    topics = {topic for topic, *_ in published.calls}
    assert "b-ops/mau-b/mau-b/alerts" in topics  # cluster = plant = the cluster id
    assert not any(t.startswith("kb-ops/") for t in topics)
    (event,) = published.events()
    assert event["explanation"]["unconnected"] == [["mb-giay", 90.0]]
    assert event["start"].endswith("+07:00")  # the cluster's zone, not UTC


def test_the_book_keeps_the_explanation_across_restarts(tmp_path, published):
    first = manager(tmp_path, published)
    first.observe([shortfall()], [], T0, bases={"day"})
    first.close()
    second = manager(tmp_path, published)
    try:
        (alert,) = second.list_alerts()
    finally:
        second.close()
    assert alert.explanation == NOTE and alert.cluster == "mau-b"


def test_the_message_tells_the_explanation_in_its_language(tmp_path, published):
    alerts = manager(tmp_path, published)
    try:
        alerts.observe([shortfall()], [], T0, bases={"day"})
        (alert,) = alerts.list_alerts()
    finally:
        alerts.close()
    messages = Messages()
    place = (MAU_B.name, cluster_layouts([MAU_B], [FACTORY])[0].zone)
    subject, body = messages.render(alert, "fired", "vi", None, T0, place)
    assert "Cụm công nghiệp mẫu B" in subject and "Thu gom chưa đạt 100 %" in subject
    assert "Giải thích: nước thải phát sinh 410 m³" in body
    assert "chưa có trạm XLNT tập trung" in body and "chưa đấu nối: mb-giay (90 m³)" in body
    assert "10:00" in body  # 03:00 UTC told in Hanoi time
    _, english = messages.render(alert, "fired", "en", None, T0, place)
    assert "Explanation: generated 410 m³" in english and "not connected: mb-giay" in english
    assert "inspect the connections" in english
