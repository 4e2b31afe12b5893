"""A simulation run: options, message generation (pure, lazy) and paced publishing.

Generation is separate from publishing so tests and benchmarks can consume the exact bytes
without a broker, and the same plan yields the same bytes for the same seed.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from collector.payload import MAX_PAYLOAD_BYTES, encode_message, encode_record
from collector.settings import MqttSettings
from rules.cluster import ClusterLayout
from rules.permit import Plant
from rules.topics import Topic
from simulator.cluster import (
    ClusterModel,
    Link,
    cluster_truth,
    network_links,
    plan_cluster_episodes,
)
from simulator.errors import SimulatorError
from simulator.malformed import malformed_messages
from simulator.plant import PlantModel
from simulator.publisher import Publisher
from simulator.scenarios import (
    CLUSTER_SCENARIOS,
    Episode,
    StationBlock,
    StepBlock,
    apply_episodes,
    parse_scenarios,
    plan_episodes,
    station_blocks,
)
from simulator.truth import Published, build_truth, write_truth

BLOCK_STEPS = 256  # steps generated per numpy block
PROGRESS_EVERY_S = 5.0
CLUSTER_SIZE = 10  # cloned plants per simulated cluster
_DECIMALS = {"temperature": 1}
_STATUS_CODES = ("00", "01", "02")


@dataclass(frozen=True)
class SimulateOptions:
    """Everything `quantrac simulate` takes besides the config (one field per flag)."""

    plant: str | None = None
    scenario: str = "normal"
    start: datetime | None = None
    duration: timedelta = timedelta(hours=6)
    interval: timedelta | None = None
    speed: float | None = None
    backfill: bool = False
    seed: int = 0
    plants: int = 1
    truth: Path | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise SimulatorError("--duration must be positive")
        if self.interval is not None and self.interval <= timedelta(0):
            raise SimulatorError("--interval must be positive")
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed > 0):
            raise SimulatorError("--speed must be a positive number")
        if self.speed is not None and self.backfill:
            raise SimulatorError("--speed and --backfill are exclusive")
        if self.plants < 1:
            raise SimulatorError("--plants must be at least 1")
        if self.start is not None and self.start.tzinfo is None:
            raise SimulatorError("--start needs a UTC offset (e.g. 2026-11-22T00:00:00+07:00)")
        if self.cluster is not None and self.plant is not None:
            raise SimulatorError("--plant and --cluster are exclusive")
        if self.cluster is not None and self.plants > 1:
            raise SimulatorError("--plants clones plants; it does not combine with --cluster")
        parse_scenarios(self.scenario)

    @property
    def mode(self) -> str:
        """`backfill`, `accelerated` or `realtime`."""
        if self.backfill:
            return "backfill"
        return "accelerated" if self.speed is not None else "realtime"


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message: `at` is the record time it belongs to (for pacing)."""

    topic: str
    payload: bytes
    at: datetime
    records: int
    kind: str = "data"  # data | backfill | duplicate | malformed


@dataclass(frozen=True)
class SimulationPlan:
    """The resolved run: which plants, the period (aware UTC, end exclusive), the episodes."""

    plants: tuple[Plant, ...]
    scenarios: tuple[str, ...]
    start: datetime
    end: datetime
    seed: int
    episodes: tuple[Episode, ...] = field(default=())
    cluster: ClusterLayout | None = None  # `--cluster`: the plants are its published ones
    links: tuple[Link, ...] = field(default=())  # how each member's water reaches the plant

    def interval(self, plant: Plant, options: SimulateOptions) -> timedelta:
        return options.interval or plant.interval_delta


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What a run published and how fast."""

    messages: int
    records: int
    malformed: int
    duplicates: int
    seconds: float
    rate: float  # records per second
    stopped: bool = False


def clone_plants(plants: Sequence[Plant], count: int) -> list[Plant]:
    """`count` plants for load tests: the configured ones first, then `sim-002`... clones.

    Clone i (1-based) copies configured plant (i-1) mod len(plants) into cluster
    `sim-cNN` with NN = (i-1) // 10 + 1, so ten plants share a cluster.
    """
    if not plants:
        raise SimulatorError("no plant to simulate")
    result = list(plants[:count])
    for number in range(len(result) + 1, count + 1):
        template = plants[(number - 1) % len(plants)]
        result.append(
            template.model_copy(
                update={
                    "id": f"sim-{number:03d}",
                    "cluster": f"sim-c{(number - 1) // CLUSTER_SIZE + 1:02d}",
                    "name": f"{template.name} (simulated #{number})",
                }
            )
        )
    return result


def plan_simulation(
    plants: Sequence[Plant], options: SimulateOptions, now: datetime | None = None,
    clusters: Sequence[ClusterLayout] = (),
) -> SimulationPlan:
    """Select and clone plants (or a whole cluster), resolve the period from the time mode,
    lay out the episodes."""
    scenarios = parse_scenarios(options.scenario)
    if options.cluster is not None:
        return _plan_cluster(clusters, options, scenarios, now or datetime.now(UTC))
    whole = [name for name in scenarios if name in CLUSTER_SCENARIOS]
    if whole:
        raise SimulatorError(f"scenario {whole[0]!r} simulates a whole cluster: give --cluster")
    selected = list(plants)
    if options.plant is not None:
        selected = [plant for plant in plants if plant.id == options.plant]
        if not selected:
            known = ", ".join(plant.id for plant in plants) or "none"
            raise SimulatorError(f"unknown plant {options.plant!r} (configured: {known})")
    chosen = clone_plants(selected, max(options.plants, len(selected)))
    start = _resolve_start(chosen, options, now or datetime.now(UTC))
    end = start + options.duration
    episodes: list[Episode] = []
    for plant in chosen:
        episodes.extend(
            plan_episodes(plant, scenarios, start, end, options.interval or plant.interval_delta)
        )
    return SimulationPlan(tuple(chosen), scenarios, start, end, options.seed, tuple(episodes))


def _plan_cluster(
    clusters: Sequence[ClusterLayout], options: SimulateOptions, scenarios: tuple[str, ...],
    now: datetime,
) -> SimulationPlan:
    """A whole cluster: its central plant and metered members in lockstep on one interval;
    plant scenarios apply to the central plant, cluster scenarios to the network."""
    layout = next((c for c in clusters if c.id == options.cluster), None)
    if layout is None:
        known = ", ".join(c.id for c in clusters) or "none"
        raise SimulatorError(f"unknown cluster {options.cluster!r} (configured: {known})")
    chosen = list(layout.plants)
    if not chosen:
        raise SimulatorError(f"cluster {layout.id!r} has no plant or metered factory to "
                             "simulate (declared members publish nothing)")
    intervals = {plant.interval_delta for plant in chosen}
    if options.interval is None and len(intervals) > 1:
        raise SimulatorError(f"the plants of cluster {layout.id!r} have different intervals: "
                             "give --interval")
    interval = options.interval or chosen[0].interval_delta
    own = [name for name in scenarios if name not in CLUSTER_SCENARIOS and name != "normal"]
    if own and layout.central is None:
        raise SimulatorError(f"plant scenario {own[0]!r} applies to the central plant; "
                             f"cluster {layout.id!r} has none")
    start = _resolve_start(chosen, options, now)
    end = start + options.duration
    episodes = plan_cluster_episodes(layout, scenarios, start, end)
    if layout.central is not None:
        episodes += plan_episodes(layout.central, scenarios, start, end, interval)
    return SimulationPlan(tuple(chosen), scenarios, start, end, options.seed, tuple(episodes),
                          cluster=layout, links=network_links(layout, options.seed, interval))


def _resolve_start(plants: Sequence[Plant], options: SimulateOptions, now: datetime) -> datetime:
    if options.start is not None:
        return options.start.astimezone(UTC)
    now = now.astimezone(UTC).replace(microsecond=0)
    if options.mode == "realtime":
        return now
    step = min(options.interval or plant.interval_delta for plant in plants)
    if options.mode == "backfill":
        now -= options.duration
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return now - (now - epoch) % step


def generate(
    plants: Sequence[Plant], options: SimulateOptions, clusters: Sequence[ClusterLayout] = ()
) -> Iterator[Message]:
    """Every message of the run in time order (lazy). Same plants + options → same bytes."""
    return generate_plan(plan_simulation(plants, options, clusters=clusters), options)


def generate_plan(plan: SimulationPlan, options: SimulateOptions) -> Iterator[Message]:
    """The messages of an already resolved plan, all plants merged by time."""
    if plan.cluster is not None:
        streams = _cluster_messages(plan, plan.cluster, options)
    else:
        streams = [_plant_messages(plant, plan, plan.interval(plant, options))
                   for plant in plan.plants]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda message: message.at)


def block_steps(plan: SimulationPlan, interval: timedelta) -> Iterator[tuple[list[datetime],
                                                                             np.ndarray]]:
    """(record times, step indices) of each block of the run."""
    steps = math.ceil((plan.end - plan.start) / interval)
    for first in range(0, steps, BLOCK_STEPS):
        index = np.arange(first, min(steps, first + BLOCK_STEPS))
        yield [plan.start + int(k) * interval for k in index], index


def plant_blocks(plant: Plant, plan: SimulationPlan, interval: timedelta) -> Iterator[StepBlock]:
    """The plant model's series, block by block, with the plant's episodes applied."""
    model = PlantModel(plant, plan.seed, interval)
    episodes = [episode for episode in plan.episodes if episode.plant == plant.id]
    for times, index in block_steps(plan, interval):
        seconds = np.array([t.timestamp() for t in times])
        series = model.series(times)
        blocks = station_blocks(plant, series, len(times))
        apply_episodes(episodes, seconds, index, series, blocks, plant)
        yield StepBlock(times, index, blocks)


def _plant_messages(plant: Plant, plan: SimulationPlan, interval: timedelta) -> Iterator[Message]:
    return plant_messages(plant, plan, plant_blocks(plant, plan, interval))


def _cluster_messages(
    plan: SimulationPlan, layout: ClusterLayout, options: SimulateOptions
) -> list[Iterator[Message]]:
    """One message stream per published plant of the cluster, fed from one cluster model
    (each block is generated once and shared)."""
    interval = options.interval or plan.plants[0].interval_delta
    model = ClusterModel(layout, plan.seed, interval, plan.episodes, plan.links)
    copies = itertools.tee(model.blocks(block_steps(plan, interval)), len(plan.plants))
    return [plant_messages(plant, plan, _blocks_of(plant.id, copy))
            for plant, copy in zip(plan.plants, copies, strict=True)]


def _blocks_of(plant_id: str, blocks: Iterable[dict[str, StepBlock]]) -> Iterator[StepBlock]:
    for block in blocks:
        yield block[plant_id]


def plant_messages(
    plant: Plant, plan: SimulationPlan, blocks: Iterable[StepBlock]
) -> Iterator[Message]:
    """The MQTT messages of one plant's blocks: one record per station and step (held back,
    duplicated, skewed or silenced as the blocks say), plus malformed bursts."""
    zone = plant.zone
    episodes = [episode for episode in plan.episodes if episode.plant == plant.id]
    malformed_at = {e.start for e in episodes if e.kind == "malformed"}
    topics = {station: Topic(plant.cluster, plant.id, station) for station in plant.stations}
    seq = dict.fromkeys(plant.stations, 0)
    held: dict[str, list[dict[str, Any]]] = {station: [] for station in plant.stations}
    for block_of in blocks:
        times, blocks_ = block_of.times, block_of.stations
        columns = {station: _columns(block) for station, block in blocks_.items()}
        for i, at in enumerate(times):
            local = at.astimezone(zone)
            for station, block in blocks_.items():
                if held[station] and not block.held[i]:
                    yield from _release(topics[station].name, held[station], at)
            for station, block in blocks_.items():
                if block.silent[i]:
                    continue
                values, status = columns[station]
                seq[station] += 1
                stamp = local + timedelta(seconds=float(block.skew[i])) if block.skew[i] else local
                record = encode_record(
                    stamp,
                    {key: column[i] for key, column in values.items()},
                    {key: _STATUS_CODES[column[i]] for key, column in status.items() if column[i]},
                    seq[station],
                )
                if block.held[i]:
                    held[station].append(record)
                    continue
                payload = encode_message([record])
                yield Message(topics[station].name, payload, at, 1)
                if block.duplicate[i]:
                    yield Message(topics[station].name, payload, at, 1, "duplicate")
            if at in malformed_at:
                target = next(e.station for e in episodes if e.kind == "malformed")
                for _name, topic, payload in malformed_messages(topics[target], local):
                    yield Message(topic, payload, at, 0, "malformed")
    for station in plant.stations:
        if held[station]:
            yield from _release(topics[station].name, held[station], plan.end)


def _columns(block: StationBlock) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Rounded plain-Python columns (fast per-record access); status only where non-zero."""
    values = {key: np.round(v, _DECIMALS.get(key, 2)).tolist() for key, v in block.values.items()}
    status = {key: s.tolist() for key, s in block.status.items() if s.any()}
    return values, status


def _release(topic: str, records: list[dict[str, Any]], at: datetime) -> Iterator[Message]:
    """Held records as one backfill array (split only if it would exceed the size limit)."""
    chunks = [list(records)]
    records.clear()
    while chunks:
        chunk = chunks.pop(0)
        payload = encode_message(chunk)
        if len(payload) > MAX_PAYLOAD_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            chunks[:0] = [chunk[:half], chunk[half:]]
            continue
        yield Message(topic, payload, at, len(chunk), "backfill")


def truth_document(plan: SimulationPlan, published: Published) -> dict[str, Any]:
    """The ground truth of a plan (see simulator.truth)."""
    return build_truth(
        plan.seed, plan.scenarios, plan.plants, plan.start, plan.end, plan.episodes, published,
        cluster=None if plan.cluster is None else cluster_truth(plan.cluster, plan.links),
    )


def run_simulation(
    plants: Sequence[Plant],
    mqtt: MqttSettings,
    options: SimulateOptions,
    progress: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    clusters: Sequence[ClusterLayout] = (),
) -> SimulationSummary:
    """Publish the run to the broker, paced by the time mode; write `--truth` at the end.

    Safe to call from a thread: it returns soon after `stop` is set.
    """
    plan = plan_simulation(plants, options, clusters=clusters)
    pace = _Pacer(options, stop)
    counts = {"messages": 0, "records": 0, "malformed": 0, "duplicates": 0}
    began = time.monotonic()
    last_report = began
    stopped = False
    with Publisher(mqtt) as publisher:
        for message in generate_plan(plan, options):
            if not pace.wait_until(message.at):
                stopped = True
                break
            publisher.publish(message.topic, message.payload)
            counts["messages"] += 1
            counts["records"] += message.records
            counts["malformed"] += message.kind == "malformed"
            counts["duplicates"] += message.kind == "duplicate"
            now = time.monotonic()
            if progress is not None and now - last_report >= PROGRESS_EVERY_S:
                last_report = now
                rate = counts["records"] / max(now - began, 1e-9)
                progress(
                    f"simulate: {counts['messages']} messages, {counts['records']} records "
                    f"({rate:.0f} records/s), at {message.at.isoformat()}"
                )
    seconds = time.monotonic() - began
    if options.truth is not None:
        write_truth(options.truth, truth_document(plan, Published(**counts)))
    return SimulationSummary(
        counts["messages"],
        counts["records"],
        counts["malformed"],
        counts["duplicates"],
        seconds,
        counts["records"] / seconds if seconds > 0 else 0.0,
        stopped,
    )


class _Pacer:
    """Sleeps so messages go out when their record time comes (scaled by --speed)."""

    def __init__(self, options: SimulateOptions, stop: threading.Event | None) -> None:
        self._mode = options.mode
        self._speed = options.speed or 1.0
        self._stop = stop or threading.Event()
        self._origin: tuple[datetime, float] | None = None

    def wait_until(self, at: datetime) -> bool:
        """False when the run should stop."""
        if self._stop.is_set():
            return False
        if self._mode == "backfill":
            return True
        if self._mode == "realtime":
            delay = (at - datetime.now(UTC)).total_seconds()
        else:
            if self._origin is None:
                self._origin = (at, time.monotonic())
            first, wall = self._origin
            delay = wall + (at - first).total_seconds() / self._speed - time.monotonic()
        if delay > 0:
            return not self._stop.wait(delay)
        return True
