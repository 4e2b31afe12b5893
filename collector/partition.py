"""Which plants one collector instance owns when several share the load (scale-out).

Every instance stores whatever the broker's MQTT 5 shared subscription hands it, but only the
owner of a plant alerts on it and runs its scheduled checks, so no plant is checked twice and
no alert is raised twice. Ownership is a stable hash of the plant id (crc32, not Python's
salted `hash`), so all instances agree without talking to each other. A cluster's ledger is
judged by the owner of its central plant (of its first plant when it has none; of the cluster
id when it has no plant at all), which reads every plant of the cluster from the store.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from collector.errors import CollectorError
from rules.cluster import ClusterLayout


@dataclass(frozen=True, slots=True)
class Partition:
    """Instance `instance` of `instances` (0-based)."""

    instance: int = 0
    instances: int = 1

    def __post_init__(self) -> None:
        if self.instances < 1 or not 0 <= self.instance < self.instances:
            raise CollectorError(
                f"instance must be in 0..{self.instances - 1}, got {self.instance} "
                f"of {self.instances}"
            )

    @property
    def split(self) -> bool:
        """True when several instances share the plants."""
        return self.instances > 1

    def owns(self, plant_id: str) -> bool:
        return zlib.crc32(plant_id.encode("utf-8")) % self.instances == self.instance

    def owns_cluster(self, cluster: ClusterLayout) -> bool:
        """Whether this instance judges the cluster's ledger (exactly one instance does)."""
        plants = cluster.plants  # central plant first
        return self.owns(plants[0].id if plants else cluster.id)


__all__ = ["Partition"]
