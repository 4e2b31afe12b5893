"""The MQTT topic grammar (SPEC "MQTT wire format"): building, filters, parsing, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.errors import RulesError
from rules.topics import (
    ID_PATTERN,
    KINDS,
    PREFIX,
    PlantTopic,
    Topic,
    TopicError,
    build,
    check_id,
    is_ack,
    parse,
    parse_data,
    subscription,
)

ids = st.from_regex(ID_PATTERN, fullmatch=True)


def test_the_prefix_and_id_pattern_are_the_specs() -> None:
    assert PREFIX == "quantrac/v1"
    assert ID_PATTERN.pattern == "[a-z0-9][a-z0-9_-]{0,63}"
    assert KINDS == ("data", "alerts", "state", "ack")


@pytest.mark.parametrize(("topic", "name"), [
    (Topic("kb", "kim-bai", "outlet"), "quantrac/v1/kb/kim-bai/outlet/data"),
    (PlantTopic("alerts", "kb", "kim-bai"), "quantrac/v1/kb/kim-bai/alerts"),
    (PlantTopic("state", "kb", "kim-bai"), "quantrac/v1/kb/kim-bai/state"),
    (PlantTopic("ack", "kb", "kim-bai"), "quantrac/v1/kb/kim-bai/alerts/ack"),
])
def test_each_kind_builds_and_parses_back(topic: Topic | PlantTopic, name: str) -> None:
    assert topic.name == name
    station = topic.station if isinstance(topic, Topic) else ""
    assert build(topic.kind, topic.cluster, topic.plant, station) == name
    assert parse(name) == topic
    assert parse(name).kind == topic.kind == name.rsplit("/", 1)[1]


def test_a_station_named_like_a_kind_is_still_a_data_topic() -> None:
    assert parse("quantrac/v1/kb/kim-bai/alerts/data") == Topic("kb", "kim-bai", "alerts")


def test_the_alert_channel_prefix_replaces_the_standard_one() -> None:
    assert build("alerts", "kb", "kim-bai", prefix="escalation/v1") == \
        "escalation/v1/kb/kim-bai/alerts"
    assert build("state", "kb", "kim-bai", prefix="esc") == "esc/kb/kim-bai/state"


@pytest.mark.parametrize(("kind", "scope", "expected"), [
    ("data", {}, "quantrac/v1/+/+/+/data"),
    ("ack", {}, "quantrac/v1/+/+/alerts/ack"),
    ("alerts", {}, "quantrac/v1/+/+/alerts"),
    ("state", {}, "quantrac/v1/+/+/state"),
    ("data", {"plant": "kim-bai"}, "quantrac/v1/+/kim-bai/+/data"),  # a scaled-out owner's watch
    ("ack", {"plant": "kim-bai"}, "quantrac/v1/+/kim-bai/alerts/ack"),
    ("alerts", {"cluster": "kb"}, "quantrac/v1/kb/+/alerts"),
])
def test_subscription_filters(kind, scope, expected) -> None:
    assert subscription(kind, **scope) == expected


@pytest.mark.parametrize(("topic", "reason"), [
    ("quantrac/v1/kb/kim-bai/Out let/data",
     "bad station id 'Out let' (must match [a-z0-9][a-z0-9_-]{0,63})"),
    ("quantrac/v1/kb/../outlet/data", "bad plant id '..' (must match [a-z0-9][a-z0-9_-]{0,63})"),
    ("quantrac/v1//kim-bai/outlet/data", "bad cluster id '' (must match [a-z0-9][a-z0-9_-]{0,63})"),
    ("quantrac/v1/kb/kim-bai/" + "a" * 65 + "/data",
     f"bad station id '{'a' * 65}' (must match [a-z0-9][a-z0-9_-]{{0,63}})"),
    ("quantrac/v2/a/b/c/data", "not a data topic: 'quantrac/v2/a/b/c/data'"),
    ("quantrac/v1/a/b/c/data/x", "not a data topic: 'quantrac/v1/a/b/c/data/x'"),
    ("quantrac/v1/a/b/alerts/ack", "not a data topic: 'quantrac/v1/a/b/alerts/ack'"),
    ("quantrac/v1/a/b/c/DATA", "not a data topic: 'quantrac/v1/a/b/c/DATA'"),
    ("x" * 300, f"not a data topic: {'x' * 200!r}"),  # long topics are cut in the reason
])
def test_bad_data_topics_name_the_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError) as caught:
        parse_data(topic)
    assert str(caught.value) == reason
    assert isinstance(caught.value, RulesError)


@pytest.mark.parametrize("topic", [
    "quantrac/v1/kb/kim-bai",
    "quantrac/v1/kb/kim-bai/alarms",
    "quantrac/v1/kb/kim-bai/alerts/nack",
    "quantrac/v1/kb/kim-bai/outlet/state",
    "quantrac/v2/kb/kim-bai/alerts",
    "quantrac/kb/kim-bai/alerts",
    "",
])
def test_topics_outside_the_grammar_are_refused(topic: str) -> None:
    with pytest.raises(TopicError, match="not a quantrac/v1 topic"):
        parse(topic)


def test_parse_checks_the_ids_of_every_kind() -> None:
    with pytest.raises(TopicError, match="bad plant id 'Kim Bai'"):
        parse("quantrac/v1/kb/Kim Bai/alerts/ack")
    with pytest.raises(TopicError, match="bad cluster id '\\+'"):
        parse(subscription("state"))  # a filter is not a topic


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: Topic("kb", "kim-bai", ""), "bad station id ''"),
    (lambda: Topic("kb", "Kim Bai", "outlet"), "bad plant id 'Kim Bai'"),
    (lambda: PlantTopic("data", "kb", "kim-bai"), "not a plant topic kind: 'data'"),
    (lambda: PlantTopic("alarm", "kb", "kim-bai"), "not a plant topic kind: 'alarm'"),
    (lambda: PlantTopic("state", "kb", "-kim-bai"), "bad plant id '-kim-bai'"),
    (lambda: PlantTopic("ack", 7, "kim-bai"), "bad cluster id 7"),
])
def test_a_topic_checks_itself(make, reason: str) -> None:
    with pytest.raises(TopicError, match=reason):
        make()


def test_check_id_returns_a_good_id() -> None:
    assert check_id("plant", "kim-bai_2") == "kim-bai_2"
    with pytest.raises(TopicError, match="bad plant id 'Kim'"):
        check_id("plant", "Kim")


def test_the_fast_data_parse_gives_the_same_value_as_a_checked_topic() -> None:
    fast = parse_data("quantrac/v1/kb/kim-bai/outlet/data")
    assert fast == Topic("kb", "kim-bai", "outlet")
    assert hash(fast) == hash(Topic("kb", "kim-bai", "outlet"))
    assert fast.kind == "data" and fast.name == "quantrac/v1/kb/kim-bai/outlet/data"
    with pytest.raises(AttributeError):
        fast.plant = "other"  # type: ignore[misc]  # still frozen


def test_only_acknowledgement_topics_are_routed_as_acks() -> None:
    assert is_ack("quantrac/v1/kb/kim-bai/alerts/ack")
    assert not is_ack("quantrac/v1/kb/kim-bai/alerts")
    assert not is_ack("quantrac/v1/kb/kim-bai/outlet/data")


@given(cluster=ids, plant=ids, station=ids, kind=st.sampled_from(KINDS))
def test_every_valid_topic_round_trips(cluster: str, plant: str, station: str, kind) -> None:
    topic = Topic(cluster, plant, station) if kind == "data" else PlantTopic(kind, cluster, plant)
    assert parse(topic.name) == topic
    if kind == "data":
        assert parse_data(topic.name) == topic
        assert topic.name.count("/") == 5
    assert is_ack(topic.name) == (kind == "ack")


@given(level=st.text(max_size=70).filter(lambda s: "/" not in s))
def test_a_level_is_accepted_exactly_when_it_is_an_id(level: str) -> None:
    topic = f"quantrac/v1/kb/kim-bai/{level}/data"
    if ID_PATTERN.fullmatch(level):
        assert parse_data(topic).station == level
    else:
        with pytest.raises(TopicError, match="bad station id"):
            parse_data(topic)
