"""A simulation run: options, message generation (pure, lazy) and paced publishing.

Generation is separate from publishing so tests and benchmarks can consume the exact bytes
without a broker, and the same plan yields the same bytes for the same seed.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from collector.payload import MAX_PAYLOAD_BYTES, encode_message, encode_record
from collector.settings import MqttSettings
from rules.permit import Plant
from rules.topics import Topic
from simulator.errors import SimulatorError
from simulator.malformed import malformed_messages
from simulator.plant import PlantModel
from simulator.publisher import Publisher
from simulator.scenarios import (
    Episode,
    StationBlock,
    apply_episodes,
    parse_scenarios,
    plan_episodes,
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
    plants: Sequence[Plant], options: SimulateOptions, now: datetime | None = None
) -> SimulationPlan:
    """Select and clone plants, resolve the period from the time mode, lay out the episodes."""
    selected = list(plants)
    if options.plant is not None:
        selected = [plant for plant in plants if plant.id == options.plant]
        if not selected:
            known = ", ".join(plant.id for plant in plants) or "none"
            raise SimulatorError(f"unknown plant {options.plant!r} (configured: {known})")
    chosen = clone_plants(selected, max(options.plants, len(selected)))
    scenarios = parse_scenarios(options.scenario)
    start = _resolve_start(chosen, options, now or datetime.now(UTC))
    end = start + options.duration
    episodes: list[Episode] = []
    for plant in chosen:
        episodes.extend(
            plan_episodes(plant, scenarios, start, end, options.interval or plant.interval_delta)
        )
    return SimulationPlan(tuple(chosen), scenarios, start, end, options.seed, tuple(episodes))


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


def generate(plants: Sequence[Plant], options: SimulateOptions) -> Iterator[Message]:
    """Every message of the run in time order (lazy). Same plants + options → same bytes."""
    return generate_plan(plan_simulation(plants, options), options)


def generate_plan(plan: SimulationPlan, options: SimulateOptions) -> Iterator[Message]:
    """The messages of an already resolved plan, all plants merged by time."""
    streams = [_plant_messages(plant, plan, plan.interval(plant, options)) for plant in plan.plants]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda message: message.at)


def _plant_messages(plant: Plant, plan: SimulationPlan, interval: timedelta) -> Iterator[Message]:
    model = PlantModel(plant, plan.seed, interval)
    zone = plant.zone
    episodes = [episode for episode in plan.episodes if episode.plant == plant.id]
    malformed_at = {e.start for e in episodes if e.kind == "malformed"}
    steps = math.ceil((plan.end - plan.start) / interval)
    topics = {station: Topic(plant.cluster, plant.id, station) for station in plant.stations}
    seq = dict.fromkeys(plant.stations, 0)
    held: dict[str, list[dict[str, Any]]] = {station: [] for station in plant.stations}
    for first in range(0, steps, BLOCK_STEPS):
        index = np.arange(first, min(steps, first + BLOCK_STEPS))
        times = [plan.start + int(k) * interval for k in index]
        seconds = np.array([t.timestamp() for t in times])
        series = model.series(times)
        blocks = {
            station: _station_block(series, keys, len(times))
            for station, keys in plant.stations.items()
        }
        apply_episodes(episodes, seconds, index, series, blocks, plant)
        columns = {station: _columns(block) for station, block in blocks.items()}
        for i, at in enumerate(times):
            local = at.astimezone(zone)
            for station, block in blocks.items():
                if held[station] and not block.held[i]:
                    yield from _release(topics[station].name, held[station], at)
            for station, block in blocks.items():
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


def _station_block(series: dict[str, np.ndarray], keys: Sequence[str], n: int) -> StationBlock:
    return StationBlock(
        values={key: series[key].copy() for key in keys},
        status={key: np.zeros(n, dtype=np.int64) for key in keys},
        silent=np.zeros(n, dtype=bool),
        held=np.zeros(n, dtype=bool),
        duplicate=np.zeros(n, dtype=bool),
        skew=np.zeros(n),
    )


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
        plan.seed, plan.scenarios, plan.plants, plan.start, plan.end, plan.episodes, published
    )


def run_simulation(
    plants: Sequence[Plant],
    mqtt: MqttSettings,
    options: SimulateOptions,
    progress: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> SimulationSummary:
    """Publish the run to the broker, paced by the time mode; write `--truth` at the end.

    Safe to call from a thread: it returns soon after `stop` is set.
    """
    plan = plan_simulation(plants, options)
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
