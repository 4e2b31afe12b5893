"""The MQTT topic grammar of SPEC.md, in one place: the prefix, the ids, building topics and
subscription filters, and parsing a topic into its kind and ids.

    quantrac/v1/<cluster>/<plant>/<station>/data   readings (stations → collector)
    quantrac/v1/<cluster>/<plant>/alerts           alert events (collector → operators)
    quantrac/v1/<cluster>/<plant>/state            the retained plant state
    quantrac/v1/<cluster>/<plant>/alerts/ack       acknowledgements (operators → collector)

Collector, alerts, simulator and deploy/mosquitto/make-acl.py use it. It needs only the
standard library, so make-acl.py runs from a clone without the virtualenv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from rules.errors import RulesError

PREFIX = "quantrac/v1"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ANY = "+"  # the MQTT single-level wildcard, in place of an id in a subscription filter
Kind = Literal["data", "alerts", "state", "ack"]
KINDS: tuple[Kind, ...] = get_args(Kind)
# What follows `<prefix>/<cluster>/<plant>` in a topic of each kind (data: after the station).
_TAILS: dict[Kind, str] = {
    "data": "data", "alerts": "alerts", "state": "state", "ack": "alerts/ack",
}
_PLANT_KINDS: tuple[Kind, ...] = ("alerts", "state", "ack")
_PREFIX_LEVELS = PREFIX.split("/")
_ACK_END = "/" + _TAILS["ack"]
# A valid data topic in one match: the data path parses a topic per message. Groups: cluster,
# plant, station. Possessive (`{0,63}+`): an id cannot hold the `/` after it, so the matcher need
# not keep backtracking points (5 % fewer instructions per match, measured with callgrind).
DATA_TOPIC = re.compile(
    "/".join([re.escape(PREFIX), *[f"({ID_PATTERN.pattern}+)"] * 3, _TAILS["data"]])
)


class TopicError(RulesError):
    """A topic or id outside the grammar; the text is the reason a dead letter records."""


def check_id(name: str, value: object) -> str:
    """`value` when it is a valid id; else `TopicError` naming the level (cluster, plant...)."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise TopicError(f"bad {name} id {value!r} (must match {ID_PATTERN.pattern})")
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    """A station's data topic (SPEC's "Topic"), as the ids it carries.

    Three fields only (`kind` is a class constant): the collector builds one per message.
    """

    kind: ClassVar[Kind] = "data"
    cluster: str
    plant: str
    station: str

    def __post_init__(self) -> None:
        check_id("cluster", self.cluster)
        check_id("plant", self.plant)
        check_id("station", self.station)

    @property
    def name(self) -> str:
        """The topic itself, e.g. `quantrac/v1/kim-bai/kim-bai/outlet/data`."""
        return build("data", self.cluster, self.plant, self.station)


@dataclass(frozen=True, slots=True)
class PlantTopic:
    """A plant's `alerts`, `state` or `ack` topic, as its kind and ids."""

    kind: Kind
    cluster: str
    plant: str

    def __post_init__(self) -> None:
        if self.kind not in _PLANT_KINDS:
            raise TopicError(f"not a plant topic kind: {self.kind!r} "
                             f"(use {', '.join(_PLANT_KINDS)})")
        check_id("cluster", self.cluster)
        check_id("plant", self.plant)

    @property
    def name(self) -> str:
        """The topic itself, e.g. `quantrac/v1/kim-bai/kim-bai/alerts/ack`."""
        return build(self.kind, self.cluster, self.plant)


def build(kind: Kind, cluster: str, plant: str, station: str = "", *, prefix: str = PREFIX) -> str:
    """The topic of one kind. Ids are not checked here (`Topic`/`PlantTopic` check them;
    `subscription` passes wildcards); `prefix`: an MQTT alert channel's configured prefix."""
    levels = [prefix, cluster, plant, station] if kind == "data" else [prefix, cluster, plant]
    return "/".join([*levels, _TAILS[kind]])


def subscription(kind: Kind, *, cluster: str = ANY, plant: str = ANY, prefix: str = PREFIX) -> str:
    """The filter for every topic of one kind, or only one cluster's or plant's (any station)."""
    return build(kind, cluster, plant, ANY, prefix=prefix)


def is_ack(topic: str) -> bool:
    """Whether a received topic is routed as an acknowledgement (`parse` checks the rest); cheap,
    because the collector asks it of every message."""
    return topic.endswith(_ACK_END)


def parse_data(topic: str) -> Topic:
    """A data topic's ids, or `TopicError`: "not a data topic" or the first bad id."""
    match = DATA_TOPIC.fullmatch(topic)
    if match is not None:  # all three ids valid: skip Topic's check of each
        ids = _NEW(Topic)
        _SET_CLUSTER(ids, match[1])
        _SET_PLANT(ids, match[2])
        _SET_STATION(ids, match[3])
        return ids
    levels = topic.split("/")
    if len(levels) != 6 or levels[:2] != _PREFIX_LEVELS or levels[5] != _TAILS["data"]:
        raise TopicError(f"not a data topic: {topic[:200]!r}")
    return Topic(levels[2], levels[3], levels[4])


def parse(topic: str) -> Topic | PlantTopic:
    """Any topic of the grammar → its kind and ids, or `TopicError`."""
    levels = topic.split("/")
    head, rest = levels[: len(_PREFIX_LEVELS)], levels[len(_PREFIX_LEVELS) :]
    if head == _PREFIX_LEVELS:
        if len(rest) == 4 and rest[3] == _TAILS["data"]:
            return Topic(rest[0], rest[1], rest[2])
        tail = "/".join(rest[2:])
        for kind in _PLANT_KINDS:
            if tail == _TAILS[kind]:
                return PlantTopic(kind, rest[0], rest[1])
    raise TopicError(f"not a {PREFIX} topic: {topic[:200]!r}")


# Building a Topic from a match through its slot setters skips __post_init__ (the pattern has
# already checked the ids) and the frozen __setattr__: the data path parses one per message.
_NEW = object.__new__
_SET_CLUSTER = vars(Topic)["cluster"].__set__
_SET_PLANT = vars(Topic)["plant"].__set__
_SET_STATION = vars(Topic)["station"].__set__
