"""Ground truth: the injected episodes and what was published, as JSON for test oracles."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rules.permit import Plant
from simulator.errors import SimulatorError
from simulator.scenarios import Episode


@dataclass(frozen=True, slots=True)
class Published:
    """What actually went out (duplicates and malformed messages included in `messages`)."""

    messages: int = 0
    records: int = 0
    malformed: int = 0
    duplicates: int = 0


def build_truth(
    seed: int,
    scenarios: Sequence[str],
    plants: Sequence[Plant],
    start: datetime,
    end: datetime,
    episodes: Sequence[Episode],
    published: Published,
    cluster: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ground-truth document; times in the (first) plant's offset. A cluster run adds
    `cluster`: its members and how each one's water reaches the central plant."""
    zones = {plant.id: plant.zone for plant in plants}
    zone = plants[0].zone if plants else None

    def local(ts: datetime, plant: str | None = None) -> str:
        return ts.astimezone(zones.get(plant or "", zone)).isoformat()

    doc: dict[str, Any] = {
        "seed": seed,
        "start": local(start),
        "end": local(end),
        "scenario": ",".join(scenarios),
        "plants": [
            {"id": plant.id, "cluster": plant.cluster, "stations": plant.stations}
            for plant in plants
        ],
        "episodes": [
            {
                "plant": episode.plant,
                "station": episode.station,
                "parameter": episode.parameter,
                "kind": episode.kind,
                "start": local(episode.start, episode.plant),
                "end": local(episode.end, episode.plant),
                "expected_finding": episode.expected_finding,
                "note": episode.note,
            }
            for episode in episodes
        ],
        "published": _counts(published),
    }
    if cluster is not None:
        doc["cluster"] = dict(cluster)
    return doc


def write_truth(path: Path, truth: Mapping[str, Any]) -> None:
    """Write the document (pretty JSON, UTF-8); raise `SimulatorError` on I/O failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SimulatorError(f"cannot write truth file {path}: {exc}") from exc


def _counts(published: Published) -> dict[str, int]:
    return {
        "messages": published.messages,
        "records": published.records,
        "malformed": published.malformed,
        "duplicates": published.duplicates,
    }
