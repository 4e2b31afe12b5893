"""A whole industrial cluster, simulated consistently (`quantrac simulate --cluster ID`).

Each member factory runs its own working pattern (the plant model with a factory's shift
shape) and discharges through the cluster's network: its water reaches the central plant after
a travel time and minus small losses (both seeded per member), so the plant's inflow is the sum
of what arrives and its inlet quality is the flow-weighted mix of the members' discharges.
Members known only by their declared flow discharge that flow (no station publishes it).
Cluster scenarios change what arrives (`illegal-discharge`, `unconnected-factory`) or what a
member discharges (`factory-overload`); docs/simulator.md lists what a monitor should report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from rules.cluster import ClusterLayout, Member
from rules.permit import CONNECTION_STATION, FLOW_KEYS, Plant
from simulator.errors import SimulatorError
from simulator.plant import FLAT_WEEK, WORKING_DAY, PlantModel, episode_limit, plant_seed
from simulator.scenarios import (
    CLUSTER_SCENARIOS,
    HOUR,
    Episode,
    StepBlock,
    apply_episodes,
    station_blocks,
)

# Working patterns of member factories (local hour, relative flow), given in member order.
FACTORY_SHAPES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0.0, 0.92), (6.0, 1.0), (14.0, 1.08), (22.0, 1.0), (24.0, 0.92)),  # round the clock
    ((0.0, 0.25), (5.5, 0.25), (6.5, 1.35), (13.8, 1.45), (14.3, 1.15), (21.5, 1.35),
     (22.5, 0.25), (24.0, 0.25)),  # two shifts, 06-22
    WORKING_DAY,  # day shift
)  # fmt: skip
TRAVEL_MINUTES = (10.0, 45.0)  # network travel time from a factory to the plant, seeded
LOSS_SHARE = (0.005, 0.02)  # exfiltration and leaks on the way, seeded
ILLEGAL_SHARE = 0.4  # share of a factory's metered discharge that never reaches the plant
OVERLOAD_FACTOR = 2.0  # x the member's connection COD limit


@dataclass(frozen=True, slots=True)
class Link:
    """How a member's wastewater reaches the central plant: travel time and share lost."""

    member: str
    delay: timedelta
    loss: float


def network_links(layout: ClusterLayout, seed: int, interval: timedelta) -> tuple[Link, ...]:
    """The seeded link of each connected member (delay rounded to whole intervals)."""
    links = []
    for member in layout.members:
        if member.connection != "connected":
            continue
        rng = np.random.default_rng(plant_seed(seed, member.id, "network"))
        minutes = rng.uniform(*TRAVEL_MINUTES)
        steps = max(1, round(timedelta(minutes=minutes) / interval))
        links.append(Link(member.id, steps * interval, round(float(rng.uniform(*LOSS_SHARE)), 4)))
    return tuple(links)


def plan_cluster_episodes(
    layout: ClusterLayout, scenarios: Sequence[str], start: datetime, end: datetime
) -> list[Episode]:
    """The cluster scenarios' episodes, plus the standing facts a monitor must report on
    every whole day: each not-connected member, and no central plant."""
    episodes: list[Episode] = []
    central = layout.central
    for member in layout.members:
        if member.connection == "not_connected":
            episodes.append(Episode(
                member.id, "network", None, "not-connected",
                start, end, "collection_shortfall",
                f"{member.id} is not connected (config): its wastewater is generated but never "
                "collected; collection_shortfall on every whole day, naming it"))
    if central is None:
        episodes.append(Episode(
            layout.id, "network", None, "no-central-plant", start, end, "collection_shortfall",
            "the cluster has no central WWTP: its factories discharge untreated; "
            "collection_shortfall (plant = the cluster id) on every whole day, treatment ratio 0"))
    for name in scenarios:
        if name in CLUSTER_SCENARIOS:
            episodes += _SCENARIOS[name](layout, start, end)
    return sorted(episodes, key=lambda e: (e.start, e.plant, e.parameter or "", e.kind))


def _span(layout: ClusterLayout, start: datetime, end: datetime, fraction: float,
          length: int) -> tuple[datetime, datetime]:
    """Whole local hours at `fraction` of the period, `length` hours long (as plant episodes)."""
    local = start.astimezone(layout.zone)
    first = local.replace(minute=0, second=0, microsecond=0)
    if first < local:
        first += HOUR
    hours = int((end - first) // HOUR)
    if hours < 1:
        raise SimulatorError("cluster scenarios need at least one full hour")
    length = max(1, min(length, hours))
    begin = first + min(int(fraction * hours), hours - length) * HOUR
    return begin, begin + length * HOUR


def _metered(layout: ClusterLayout, scenario: str, key: str = "flow_out") -> list[Plant]:
    """Metered connected members measuring `key`, largest design flow first."""
    found = [m.plant for m in layout.members if m.plant is not None
             and m.connection == "connected"
             and key in m.plant.stations.get(CONNECTION_STATION, [])]
    if not found or layout.central is None:
        raise SimulatorError(f"scenario {scenario!r} needs a central plant and a metered "
                             f"connected factory measuring {key} in cluster {layout.id!r}")
    return sorted(found, key=lambda p: (-p.design_flow_m3_day, p.id))


def _illegal_discharge(layout: ClusterLayout, start: datetime, end: datetime) -> list[Episode]:
    factory = _metered(layout, "illegal-discharge")[0]
    begin, stop = _span(layout, start, end, 0.0, int((end - start) // HOUR))
    return [Episode(
        factory.id, CONNECTION_STATION, "flow_out", "illegal-discharge", begin, stop,
        "collection_shortfall",
        f"{ILLEGAL_SHARE:.0%} of {factory.id}'s metered discharge leaves the network through "
        "an illegal outlet before the central plant, every whole hour of the run: the plant's "
        "inflow falls short of what the factories discharged; on a whole day, "
        f"collection_shortfall at the central plant naming {factory.id}", level=ILLEGAL_SHARE)]


def _unconnected_factory(layout: ClusterLayout, start: datetime, end: datetime
                         ) -> list[Episode]:
    factory = _metered(layout, "unconnected-factory")[-1]
    return [Episode(
        factory.id, CONNECTION_STATION, "flow_out", "unconnected-factory", start, end,
        "collection_shortfall",
        f"{factory.id} is registered as connected but its pipe never reaches the network: none "
        "of its metered discharge arrives; collection_shortfall on every whole day naming it",
        level=1.0)]


def _factory_overload(layout: ClusterLayout, start: datetime, end: datetime) -> list[Episode]:
    factory = _metered(layout, "factory-overload", "cod")[0]
    begin, stop = _span(layout, start, end, 1 / 3, 2)
    limit = episode_limit(factory, "cod") or 0.0
    level = OVERLOAD_FACTOR * limit
    episodes = [Episode(
        factory.id, CONNECTION_STATION, "cod", "factory-overload", begin, stop, "exceedance",
        f"{factory.id} discharges COD ~{level:.0f} mg/L ({OVERLOAD_FACTOR:g}x its connection "
        "limit) into the network: exceedance at its connection station (hourly means)",
        level=level)]
    central = layout.central
    if central is not None and "cod" in central.stations.get("inlet", []):
        episodes.append(Episode(
            central.id, "inlet", "cod", "factory-overload", begin, stop, None,
            f"the central plant's inlet COD rises as {factory.id}'s load arrives (after the "
            "network's travel time): not a compliance finding, the inlet is not judged"))
    return episodes


def _no_central_plant(layout: ClusterLayout, start: datetime, end: datetime) -> list[Episode]:
    if layout.central is not None:
        raise SimulatorError(f"scenario 'no-central-plant' needs a cluster without a central "
                             f"plant; {layout.id!r} has {layout.central.id!r}")
    return []  # the standing no-central-plant episode says it all


_SCENARIOS = {
    "illegal-discharge": _illegal_discharge,
    "factory-overload": _factory_overload,
    "unconnected-factory": _unconnected_factory,
    "no-central-plant": _no_central_plant,
}


class ClusterModel:
    """Generates every published plant of a cluster block by block, in lockstep: members
    first, then the central plant fed by what their network delivers."""

    def __init__(self, layout: ClusterLayout, seed: int, interval: timedelta,
                 episodes: Sequence[Episode], links: Sequence[Link]) -> None:
        self.layout = layout
        self._episodes = tuple(episodes)
        central = layout.central
        self._inlet_keys = [k for k in (central.stations.get("inlet", []) if central else [])
                            if k not in FLOW_KEYS]
        self._members: list[tuple[Member, Plant, PlantModel]] = []
        metered = [(m, m.plant) for m in layout.members if m.plant is not None]
        for number, (member, plant) in enumerate(metered):
            shape = FACTORY_SHAPES[number % len(FACTORY_SHAPES)]
            self._members.append((member, plant, PlantModel(plant, seed, interval, shape=shape)))
        for member in layout.members:
            if member.plant is None and member.declared_flow_m3_day > 0:
                plant = _declared_plant(layout, member, self._inlet_keys)
                # A declared flow is one number: such a member discharges it round the clock,
                # every day (what the ledger assumes hour by hour).
                self._members.append((member, plant, PlantModel(
                    plant, seed, interval, shape=FACTORY_SHAPES[0], week=FLAT_WEEK)))
        self._central = (central, PlantModel(central, seed, interval)) if central else None
        self._links = {link.member: link for link in links}
        self._delay = {m: round(link.delay / interval) for m, link in self._links.items()}
        self._pipes: dict[str, dict[str, np.ndarray]] = {}

    def blocks(self, steps: Iterable[tuple[list[datetime], np.ndarray]]
               ) -> Iterator[dict[str, StepBlock]]:
        """Per block of steps: every published plant's station blocks, by plant id."""
        for times, index in steps:
            n = len(times)
            seconds = np.array([t.timestamp() for t in times])
            out: dict[str, StepBlock] = {}
            inflow = np.zeros(n)
            loads = {key: np.zeros(n) for key in self._inlet_keys}
            carriers = {key: np.zeros(n) for key in self._inlet_keys}
            for member, plant, model in self._members:
                series = model.series(times)
                stations = station_blocks(plant, series, n)
                apply_episodes([e for e in self._episodes
                                if e.plant == member.id and e.station in stations],
                               seconds, index, series, stations, plant)
                if member.metered:
                    out[member.id] = StepBlock(times, index, stations)
                if member.id not in self._links:
                    continue  # not connected or treating itself: nothing reaches the plant
                discharge = stations[CONNECTION_STATION].values
                sent = discharge["flow_out"] * self._arriving(member.id, seconds)
                quality = {k: discharge[k] for k in self._inlet_keys if k in discharge}
                flow, conc = self._through_network(member.id, sent, quality)
                inflow += flow
                for key, values in conc.items():
                    loads[key] += flow * values
                    carriers[key] += flow
            if self._central is not None:
                plant, model = self._central
                out[plant.id] = self._central_block(
                    plant, model, times, index, seconds, inflow, loads, carriers)
            yield out

    def _arriving(self, member: str, seconds: np.ndarray) -> np.ndarray:
        """Share of a member's discharge that reaches the plant at each step."""
        share = np.full(len(seconds), 1.0 - self._links[member].loss)
        for episode in self._episodes:
            if episode.plant == member and episode.kind in ("illegal-discharge",
                                                            "unconnected-factory"):
                inside = (seconds >= episode.start.timestamp()) & (
                    seconds < episode.end.timestamp())
                share = np.where(inside, share * (1.0 - episode.level), share)
        return share

    def _through_network(self, member: str, flow: np.ndarray, quality: dict[str, np.ndarray]
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Delay a member's flow and quality by its travel time, carried across blocks (the
        pipe starts filled with the first step's values)."""
        delay, n = self._delay[member], len(flow)
        columns = {"flow": flow, **quality}
        pipe = self._pipes.get(member) or {k: np.full(delay, v[0]) for k, v in columns.items()}
        joined = {k: np.concatenate([pipe[k], v]) for k, v in columns.items()}
        self._pipes[member] = {k: v[len(v) - delay:] for k, v in joined.items()}
        return joined["flow"][:n], {k: joined[k][:n] for k in quality}

    def _central_block(self, central: Plant, model: PlantModel, times: list[datetime],
                       index: np.ndarray, seconds: np.ndarray, inflow: np.ndarray,
                       loads: dict[str, np.ndarray], carriers: dict[str, np.ndarray]
                       ) -> StepBlock:
        """The central plant fed by the network; its inlet quality is the arrivals' mix."""
        series = model.series(times, inflow=inflow)
        stations = station_blocks(central, series, len(times))
        inlet = stations.get("inlet")
        if inlet is not None:
            for key, load in loads.items():
                with np.errstate(divide="ignore", invalid="ignore"):
                    mixed = np.where(carriers[key] > 0, load / carriers[key], inlet.values[key])
                inlet.values[key] = mixed
        own = [e for e in self._episodes if e.plant == central.id
               and e.kind not in CLUSTER_SCENARIOS]
        apply_episodes(own, seconds, index, series, stations, central)
        return StepBlock(times, index, stations)


def _declared_plant(layout: ClusterLayout, member: Member, keys: Sequence[str]) -> Plant:
    """A stand-in plant for the model of a member known only by its declared flow."""
    return Plant.model_validate({
        "id": member.id, "cluster": layout.id, "name": member.name,
        "timezone": layout.timezone, "design_flow_m3_day": member.declared_flow_m3_day,
        "kind": "factory", "connection": "own_treatment", "regulation": "qcvn40-2011",
        "kq": 1.0, "stations": {CONNECTION_STATION: ["flow_out", *keys]},
    })


def cluster_truth(layout: ClusterLayout, links: Sequence[Link]) -> dict[str, Any]:
    """The cluster section of the ground truth: members, connections and network links."""
    by_member = {link.member: link for link in links}
    return {
        "id": layout.id,
        "name": layout.name,
        "province": layout.province,
        "central_plant": layout.central.id if layout.central else None,
        "members": [
            {
                "id": m.id,
                "connection": m.connection,
                "metered": m.metered,
                "declared_flow_m3_day": None if m.metered else m.declared_flow_m3_day,
                "travel_minutes": (by_member[m.id].delay.total_seconds() / 60
                                   if m.id in by_member else None),
                "loss": by_member[m.id].loss if m.id in by_member else None,
            }
            for m in layout.members
        ],
    }
