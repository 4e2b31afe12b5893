"""Shared builders for the alerts tests: a plant, findings, a capturing MQTT publisher."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.manager import AlertManager
from alerts.settings import AlertSettings
from rules.findings import Finding
from rules.permit import Plant

T0 = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi
KIM_BAI = Plant(
    id="kim-bai",
    cluster="kim-bai",
    name="Kim Bai WWTP",
    design_flow_m3_day=1500,
    stations={"outlet": ["cod", "ph", "tss"], "inlet": ["flow_in"]},
)
COD = ("kim-bai", "outlet", "cod")
PH = ("kim-bai", "outlet", "ph")


def finding(
    value: float | None = 151.2,
    severity: str = "minor",
    *,
    kind: str = "exceedance",
    basis: str = "instantaneous",
    parameter: str = "cod",
    station: str = "outlet",
    limit: float | None = 135.0,
    start: datetime = T0,
    end: datetime | None = None,
) -> Finding:
    ratio = None if value is None or limit is None else value / limit
    return Finding(
        plant="kim-bai",
        station=station,
        parameter=parameter,
        kind=kind,
        basis=basis,
        start=start,
        end=end or start,
        value=value,
        limit=limit,
        ratio=ratio,
        severity=severity,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class Published:
    """The injected MQTT publisher: records every call."""

    calls: list[tuple[str, bytes, int, bool]] = field(default_factory=list)
    fail: bool = False

    def __call__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if self.fail:
            raise ConnectionError("broker away")
        self.calls.append((topic, payload, qos, retain))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _, _ in self.calls if t.endswith("/alerts")]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events()]

    def states(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _, r in self.calls if t.endswith("/state") and r]


MQTT_ONLY: dict[str, Any] = {"channels": {"mqtt": {"type": "mqtt"}}}


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def make_manager(tmp_path: Path, published: Published) -> Callable[..., AlertManager]:
    """Build a manager on tmp_path/state with MQTT-only delivery unless told otherwise."""
    made: list[AlertManager] = []

    def build(state: Path | None = None, **overrides: Any) -> AlertManager:
        config = {**MQTT_ONLY, **overrides}
        manager = AlertManager(
            AlertSettings.model_validate(config),
            [KIM_BAI],
            state or tmp_path / "state",
            publish=published,
        )
        made.append(manager)
        return manager

    yield build  # type: ignore[misc]
    for manager in made:
        manager.close()
