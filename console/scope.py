"""Who sees and acknowledges what (SPEC "Console (web)"): an operator its plants (and the
plants of its clusters), a regulator every plant of its clusters (all when none), an admin
everything. Unknown plant → NotFound (404), a plant outside the scope → Forbidden (403).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from console.accounts import User
from console.errors import Forbidden, NotFound
from rules.cluster import ClusterLayout, cluster_layouts
from rules.permit import Plant


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster as a page shows it: its layout (name, province, central plant, members) and
    the plants in the reader's scope, central plant first, then member factories, in config
    order."""

    id: str
    name: str
    layout: ClusterLayout
    plants: tuple[Plant, ...]


class Directory:
    """Every plant and cluster of the config, by id."""

    def __init__(self, plants: Sequence[Plant], layouts: Sequence[ClusterLayout] = ()) -> None:
        self.plants = tuple(plants)
        self._by_id = {plant.id: plant for plant in plants}
        # Without [[clusters]] (or in tests) every plant's cluster id forms a cluster.
        self.layouts = tuple(layouts) or cluster_layouts((), self.plants)
        self._layouts = {layout.id: layout for layout in self.layouts}

    def plant(self, plant_id: str) -> Plant:
        try:
            return self._by_id[plant_id]
        except KeyError:
            raise NotFound(f"no plant {plant_id!r}", "plant_unknown", plant=plant_id) from None

    def layout(self, cluster_id: str) -> ClusterLayout:
        try:
            return self._layouts[cluster_id]
        except KeyError:
            raise NotFound(f"no cluster {cluster_id!r}", "cluster_unknown",
                           cluster=cluster_id) from None

    def clusters(self, plants: Sequence[Plant]) -> list[Cluster]:
        """`plants` grouped by cluster in config order, each central plant first."""
        groups: dict[str, list[Plant]] = {}
        for plant in plants:
            groups.setdefault(plant.cluster, []).append(plant)
        found = []
        for layout in self.layouts:
            mine = groups.get(layout.id)
            if not mine:
                continue
            central = layout.central.id if layout.central else None
            mine.sort(key=lambda p: (p.id != central, p.kind == "factory"))
            found.append(Cluster(layout.id, layout.name, layout, tuple(mine)))
        return found


class Scope:
    """One user's view of the directory."""

    def __init__(self, user: User, directory: Directory) -> None:
        self.user = user
        self.directory = directory

    def sees(self, plant: Plant) -> bool:
        user = self.user
        if user.role == "admin":
            return True
        if user.role == "regulator":
            return not user.clusters or plant.cluster in user.clusters
        return plant.id in user.plants or plant.cluster in user.clusters

    def plants(self) -> list[Plant]:
        return [plant for plant in self.directory.plants if self.sees(plant)]

    def plant_ids(self) -> list[str]:
        return [plant.id for plant in self.plants()]

    def plant(self, plant_id: str) -> Plant:
        """The plant if the user may see it; NotFound / Forbidden otherwise."""
        plant = self.directory.plant(plant_id)
        if not self.sees(plant):
            raise Forbidden(f"plant {plant_id!r} is outside your scope", "plant_outside_scope",
                            plant=plant_id)
        return plant

    def sees_cluster(self, layout: ClusterLayout) -> bool:
        """Admins and regulators of the cluster (all when none are listed) see its ledger, as
        do operators of the cluster or of its central plant."""
        user = self.user
        if user.role == "admin":
            return True
        if user.role == "regulator":
            return not user.clusters or layout.id in user.clusters
        central = layout.central.id if layout.central else None
        return layout.id in user.clusters or (central is not None and central in user.plants)

    def cluster(self, cluster_id: str) -> ClusterLayout:
        """The cluster if the user may see it; NotFound / Forbidden otherwise."""
        layout = self.directory.layout(cluster_id)
        if not self.sees_cluster(layout):
            raise Forbidden(f"cluster {cluster_id!r} is outside your scope",
                            "cluster_outside_scope", cluster=cluster_id)
        return layout

    def may_ack(self, plant: Plant) -> bool:
        """Regulators acknowledge nothing; operators only in scope; admins everything."""
        return self.user.role != "regulator" and self.sees(plant)

    def check_ack(self, plant_id: str) -> Plant:
        """The plant of an alert to acknowledge; NotFound / Forbidden when not allowed."""
        plant = self.plant(plant_id)
        if not self.may_ack(plant):
            raise Forbidden("regulators do not acknowledge alerts", "regulator_no_ack")
        return plant
