"""Kim Bai as configured in SPEC.md, and helpers to run the generator and read what it sent."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from collector.payload import Reading, parse_message
from quantrac.demo import KIM_BAI
from rules.permit import Plant
from simulator.run import Message, SimulateOptions, generate

HOUR = timedelta(hours=1)


class Sim:
    """Builders and readers shared by the simulator tests (exposed as the `sim` fixture)."""

    # Monday 2026-11-23, local midnight in Hanoi.
    MONDAY = datetime.fromisoformat("2026-11-23T00:00:00+07:00")
    HOUR = HOUR

    @staticmethod
    def kim_bai(**changes: Any) -> Plant:
        base: dict[str, Any] = copy.deepcopy(KIM_BAI)
        base.update(changes)
        return Plant.model_validate(base)

    @staticmethod
    def options(**changes: Any) -> SimulateOptions:
        base: dict[str, Any] = {
            "start": Sim.MONDAY,
            "duration": timedelta(hours=6),
            "backfill": True,
            "seed": 42,
        }
        base.update(changes)
        return SimulateOptions(**base)

    @staticmethod
    def run(configured: Sequence[Plant], **changes: Any) -> list[Message]:
        return list(generate(configured, Sim.options(**changes)))

    @staticmethod
    def readings(messages: Sequence[Message], station: str | None = None) -> list[Reading]:
        """Every valid reading sent (duplicates included), optionally of one station."""
        out: list[Reading] = []
        for message in messages:
            if message.kind == "malformed":
                continue
            out.extend(parse_message(message.topic, message.payload))
        return [r for r in out if station is None or r.station == station]

    @staticmethod
    def window(items: Sequence[Reading], start: datetime, end: datetime) -> list[Reading]:
        return [r for r in items if start <= r.ts < end]

    @staticmethod
    def mean(items: Sequence[Reading], key: str) -> float:
        values = [r.values[key] for r in items]
        return sum(values) / len(values)

    @staticmethod
    def doc(message: Message) -> Any:
        return json.loads(message.payload)


@pytest.fixture
def sim() -> type[Sim]:
    return Sim


@pytest.fixture
def plant() -> Plant:
    return Sim.kim_bai()
