"""Industrial clusters: the central plant, the member factories and where each one discharges.

`[[clusters]]` (SPEC "Clusters, member factories and the province roll-up") names a cluster's
central WWTP (or none) and the members known only by their declared flow; members with their
own monitoring station are `[[plants]]` of kind `factory`. A plant whose cluster has no
`[[clusters]]` entry forms a cluster of its own, so configs without clusters stay valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from rules.permit import ID_RE, Connection, Plant

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"  # a cluster with no plant at all (declared members only)


class DeclaredFactory(BaseModel):
    """A member factory known only by its declared discharge (no monitoring station)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    id: str = Field(pattern=ID_RE)
    name: str
    connection: Connection = Field(
        description="connected (to the cluster network), own_treatment (treats and discharges "
        "itself) or not_connected (its wastewater is generated but cannot be collected)")
    declared_flow_m3_day: float = Field(ge=0, description="declared wastewater discharge")


class Cluster(BaseModel):
    """One industrial cluster: its central WWTP (absent = none yet) and declared members."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_RE)
    name: str
    province: str
    central_plant: str | None = Field(
        default=None, pattern=ID_RE, description="a [[plants]] id of kind plant; absent = the "
        "cluster has no central WWTP")
    factories: tuple[DeclaredFactory, ...] = Field(
        default=(), description="members known only by their declared flow; metered members "
        "are [[plants]] with kind = \"factory\"")


@dataclass(frozen=True, slots=True)
class Member:
    """A member factory: metered (`plant` set) or known by its declared flow."""

    id: str
    name: str
    connection: Connection
    plant: Plant | None = None
    declared_flow_m3_day: float = 0.0

    @property
    def metered(self) -> bool:
        return self.plant is not None


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """A cluster resolved against the plants: central plant, members, the plants' zone.

    `declared` is False for a cluster formed by plants whose cluster has no `[[clusters]]`."""

    id: str
    name: str
    province: str
    central: Plant | None
    members: tuple[Member, ...]
    timezone: str
    declared: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def keeps_ledger(self) -> bool:
        """Whether the cluster has a collection ledger: a `[[clusters]]` entry or member
        factories (a plant alone in its cluster has only its own treatment rows)."""
        return self.declared or bool(self.members)

    @property
    def plants(self) -> tuple[Plant, ...]:
        """Every plant whose readings the cluster's ledger needs: central plant first."""
        metered = tuple(m.plant for m in self.members if m.plant is not None)
        return ((self.central,) if self.central else ()) + metered


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad reference between config entries: the field path and what is wrong."""

    path: str
    message: str


def reference_problems(clusters: Sequence[Cluster], plants: Sequence[Plant]) -> list[Problem]:
    """Every bad reference between `[[clusters]]` and `[[plants]]`, in config order: duplicate
    ids, an unknown or misplaced central plant, a `discharges_to` cycle, a factory discharging
    to a factory or to a plant other than its cluster's central plant, mixed time zones."""
    problems: list[Problem] = []
    by_id = {p.id: p for p in plants}
    index: dict[str, int] = {}
    for i, plant in enumerate(plants):
        index.setdefault(plant.id, i)
    for i, plant in enumerate(plants):
        if index[plant.id] != i:
            problems.append(Problem(f"plants[{i}].id", f"plant id {plant.id!r} appears twice"))
    entries: dict[str, Cluster] = {}
    members = set(by_id)
    for i, cluster in enumerate(clusters):
        if cluster.id in entries:
            problems.append(Problem(f"clusters[{i}].id",
                                    f"cluster id {cluster.id!r} appears twice"))
        entries.setdefault(cluster.id, cluster)
        for j, factory in enumerate(cluster.factories):
            if factory.id in members:
                problems.append(Problem(
                    f"clusters[{i}].factories[{j}].id",
                    f"factory id {factory.id!r} is already a plant or factory id"))
            members.add(factory.id)
        problems += _central_problems(i, cluster, by_id)
        if cluster.central_plant is None and cluster.id in by_id \
                and by_id[cluster.id].cluster != cluster.id:
            # Its findings are filed under the cluster id (there is no plant to name).
            problems.append(Problem(
                f"clusters[{i}].id", f"a cluster without a central plant cannot share its id "
                f"with plant {cluster.id!r} of cluster {by_id[cluster.id].cluster!r}"))
    problems += _discharge_problems(plants, by_id, index, entries)
    problems += _zone_problems(plants)
    return problems


def _central_problems(i: int, cluster: Cluster, by_id: dict[str, Plant]) -> list[Problem]:
    path = f"clusters[{i}].central_plant"
    if cluster.central_plant is None:
        return []
    plant = by_id.get(cluster.central_plant)
    if plant is None:
        known = ", ".join(by_id) or "none"
        return [Problem(path, f"unknown plant {cluster.central_plant!r} (plants: {known})")]
    if plant.kind == "factory":
        return [Problem(path, f"{plant.id!r} is a factory; the central plant is a [[plants]] "
                              'entry of kind "plant"')]
    if plant.cluster != cluster.id:
        return [Problem(path, f"plant {plant.id!r} belongs to cluster {plant.cluster!r}")]
    return []


def _discharge_problems(
    plants: Sequence[Plant], by_id: dict[str, Plant], index: dict[str, int],
    entries: dict[str, Cluster],
) -> list[Problem]:
    problems: list[Problem] = []
    for plant in plants:
        target_id = plant.discharges_to
        if target_id is None:
            continue
        path = f"plants[{index[plant.id]}].discharges_to"
        cycle = _cycle_from(plant.id, by_id)
        target = by_id.get(target_id)
        if cycle:
            problems.append(Problem(path, f"discharges_to cycle: {' → '.join(cycle)}"))
        elif target is None:
            known = ", ".join(p.id for p in plants if p.kind == "plant") or "none"
            problems.append(Problem(path, f"unknown plant {target_id!r} (plants: {known})"))
        elif target.kind == "factory":
            problems.append(Problem(path, f"{target_id!r} is a factory; a factory discharges "
                                          "to its cluster's central plant"))
        elif target.cluster != plant.cluster:
            problems.append(Problem(path, f"{target_id!r} is a plant of cluster "
                                          f"{target.cluster!r}, not of {plant.cluster!r}"))
        else:
            central = _central_id(plant.cluster, plants, entries)
            if central != target_id:
                problems.append(Problem(path, _not_central(plant.cluster, central, entries)))
    return problems


def _not_central(cluster: str, central: str | None, entries: dict[str, Cluster]) -> str:
    if central is not None:
        return f"the central plant of cluster {cluster!r} is {central!r}"
    if cluster in entries:
        return f"cluster {cluster!r} has no central plant ([[clusters]] central_plant)"
    return (f"cluster {cluster!r} has several plants: name its central plant in a "
            "[[clusters]] entry")


def _cycle_from(start: str, by_id: dict[str, Plant]) -> list[str]:
    """The discharges_to chain from `start` if it comes back to `start`, else []."""
    chain = [start]
    current = by_id[start].discharges_to
    while current is not None and current in by_id and current not in chain:
        chain.append(current)
        current = by_id[current].discharges_to
    return [*chain, start] if current == start else []


def _central_id(cluster: str, plants: Sequence[Plant], entries: dict[str, Cluster]) -> str | None:
    """The central plant of `cluster`: its entry's, or else its only plant of kind plant."""
    if cluster in entries:
        return entries[cluster].central_plant
    own = [p.id for p in plants if p.cluster == cluster and p.kind == "plant"]
    return own[0] if len(own) == 1 else None


def _zone_problems(plants: Sequence[Plant]) -> list[Problem]:
    first: dict[str, Plant] = {}
    problems: list[Problem] = []
    for i, plant in enumerate(plants):
        other = first.setdefault(plant.cluster, plant)
        if other.timezone != plant.timezone:
            problems.append(Problem(
                f"plants[{i}].timezone", f"cluster {plant.cluster!r} keeps one calendar: "
                f"{other.id!r} is on {other.timezone}"))
    return problems


def cluster_layouts(
    clusters: Sequence[Cluster], plants: Sequence[Plant]
) -> tuple[ClusterLayout, ...]:
    """Every cluster of a valid config: the `[[clusters]]` entries in order, then one per
    cluster id that only plants carry (its central plant: its only plant of kind plant)."""
    entries = {c.id: c for c in clusters}
    order = list(entries) + [p.cluster for p in plants if p.cluster not in entries]
    layouts = []
    for cluster_id in dict.fromkeys(order):
        own = [p for p in plants if p.cluster == cluster_id]
        central_id = _central_id(cluster_id, plants, entries)
        central = next((p for p in own if p.id == central_id), None)
        metered = [Member(p.id, p.name, p.connection_status or "connected", plant=p)
                   for p in own if p.kind == "factory"]
        entry = entries.get(cluster_id)
        declared = [Member(f.id, f.name, f.connection,
                           declared_flow_m3_day=f.declared_flow_m3_day)
                    for f in (entry.factories if entry else ())]
        layouts.append(ClusterLayout(
            id=cluster_id,
            name=entry.name if entry else (central.name if central else cluster_id),
            province=entry.province if entry else "",
            central=central,
            members=(*metered, *declared),
            timezone=own[0].timezone if own else DEFAULT_TIMEZONE,
            declared=entry is not None,
        ))
    return tuple(layouts)
