"""Named, composable disturbance scenarios: where each episode sits and what it does to the data.

Episodes are laid out on whole local hours of the simulated period at fixed fractions of it,
so a 6 h run holds every episode and a longer run spreads them out; episodes that touch the same
station/parameter ("lane") are moved apart when the period has room. See docs/simulator.md for
what a correct monitor should report for each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

import numpy as np

from rules.permit import Plant
from simulator.errors import SimulatorError
from simulator.plant import PH_MEAN, episode_limit, hourly_design_flow, typical_level

HOUR = timedelta(hours=1)
SKEW = timedelta(minutes=7)
DUPLICATE_EVERY = 12  # every 12th outlet record is sent twice
CALIBRATION_OFFSET = timedelta(minutes=20)
CALIBRATION_LENGTH = timedelta(minutes=10)
PH_HIGH = 9.6
PH_LOW = 4.8
DEVICE_ERROR_VALUE = 999.9
BYPASS_SHARE = 0.3
OVERLOAD_INFLOW = 2.0  # x the design hourly rate
TREATMENT_CAPACITY = 1.3  # x the design hourly rate: what the plant can pass through treatment


@dataclass(frozen=True, slots=True)
class Episode:
    """One injected disturbance: where, when (aware UTC, end exclusive), what a monitor should see.

    `level` is the magnitude the effect uses (target value, offset...); `detail` names a
    sub-kind (e.g. the malformed class).
    """

    plant: str
    station: str
    parameter: str | None
    kind: str
    start: datetime
    end: datetime
    expected_finding: str | None
    note: str
    level: float = 0.0
    detail: str = ""


@dataclass(slots=True)
class StationBlock:
    """One station's readings over a block of steps, as the scenarios leave them."""

    values: dict[str, np.ndarray]
    status: dict[str, np.ndarray]  # key -> int codes 0/1/2
    silent: np.ndarray  # no record at all (dropout)
    held: np.ndarray  # kept back by a link outage
    duplicate: np.ndarray  # sent twice
    skew: np.ndarray = field(default_factory=lambda: np.zeros(0))  # seconds added to ts


@dataclass(frozen=True, slots=True)
class StepBlock:
    """One plant's readings over a block of steps: the record times, their step indices and
    each station's values as the scenarios leave them."""

    times: list[datetime]
    index: np.ndarray
    stations: dict[str, StationBlock]


def station_blocks(plant: Plant, series: dict[str, np.ndarray], n: int) -> dict[str,
                                                                               StationBlock]:
    """Each configured station's copy of the series it measures, undisturbed."""
    return {
        station: StationBlock(
            values={key: series[key].copy() for key in keys},
            status={key: np.zeros(n, dtype=np.int64) for key in keys},
            silent=np.zeros(n, dtype=bool),
            held=np.zeros(n, dtype=bool),
            duplicate=np.zeros(n, dtype=bool),
            skew=np.zeros(n),
        )
        for station, keys in plant.stations.items()
    }


@dataclass(slots=True)
class _Context:
    plant: Plant
    start: datetime
    end: datetime
    interval: timedelta
    first_hour: datetime
    hours: int
    used: dict[int, list[str]] = field(default_factory=dict)

    def place(self, name: str, fraction: float, length: int, lanes: Sequence[str]) -> int:
        """The first free start hour at or after `fraction` of the period (else before it)."""
        if self.hours < 1:
            raise SimulatorError(
                f"scenario {name!r} needs at least one full hour in the simulated period"
            )
        length = min(length, self.hours)
        preferred = min(int(fraction * self.hours), self.hours - length)
        candidates = [*range(preferred, self.hours - length + 1), *range(preferred - 1, -1, -1)]
        chosen = preferred  # overlap as a last resort when the period is too short
        for hour in candidates:
            if all(self._free(hour + i, lanes) for i in range(length)):
                chosen = hour
                break
        for i in range(length):
            self.used.setdefault(chosen + i, []).extend(lanes)
        return chosen

    def span(self, hour: int, length: int) -> tuple[datetime, datetime]:
        start = self.first_hour + hour * HOUR
        return start, min(start + min(length, self.hours) * HOUR, self.end)

    def _free(self, hour: int, lanes: Sequence[str]) -> bool:
        return not any(_conflict(a, b) for a in lanes for b in self.used.get(hour, []))


def _conflict(a: str, b: str) -> bool:
    station_a, key_a = a.split(".")
    station_b, key_b = b.split(".")
    return station_a == station_b and (key_a == key_b or "*" in (key_a, key_b))


# Scenarios of a whole cluster (`--cluster`), laid out and applied by simulator.cluster.
CLUSTER_SCENARIOS = ("illegal-discharge", "factory-overload", "unconnected-factory",
                     "no-central-plant")


def parse_scenarios(text: str) -> tuple[str, ...]:
    """`"cod-spike,calibration"` → names in canonical order; `all` = every plant scenario."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise SimulatorError("no scenario given")
    known = (*SCENARIOS, *CLUSTER_SCENARIOS)
    if "all" in names:
        return tuple(SCENARIOS)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SimulatorError(
            f"unknown scenario {unknown[0]!r} (known: all, {', '.join(known)})"
        )
    return tuple(name for name in known if name in names)


def plan_episodes(
    plant: Plant, scenarios: Sequence[str], start: datetime, end: datetime, interval: timedelta
) -> list[Episode]:
    """Every episode the scenarios inject into one plant over [start, end)."""
    local = start.astimezone(plant.zone)
    first = local.replace(minute=0, second=0, microsecond=0)
    if first < local:
        first += HOUR
    hours = max(0, int((end - first) // HOUR))
    context = _Context(plant, start, end, interval, first, hours)
    episodes: list[Episode] = []
    for name in scenarios:
        if name in SCENARIOS:
            episodes.extend(SCENARIOS[name](context))
    return sorted(episodes, key=lambda e: (e.start, e.station, e.parameter or "", e.kind))


def station_with(plant: Plant, key: str, preferred: str, scenario: str) -> str:
    """The station measuring `key`: `preferred` if it does, else the first that does."""
    if key in plant.stations.get(preferred, []):
        return preferred
    for station, keys in plant.stations.items():
        if key in keys:
            return station
    raise SimulatorError(f"scenario {scenario!r} needs parameter {key!r} on plant {plant.id!r}")


def _limit(plant: Plant, key: str) -> float:
    limit = episode_limit(plant, key)
    return limit if limit is not None else 3.0 * typical_level(plant, key)


def _normal(context: _Context) -> list[Episode]:
    return []


def _calibration(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "cod", "outlet", "calibration")
    hour = context.place("calibration", 0.0, 1, [f"{station}.cod"])
    start = context.span(hour, 1)[0] + CALIBRATION_OFFSET
    length = max(CALIBRATION_LENGTH, context.interval)
    return [
        Episode(
            plant.id, station, "cod", "calibration", start, min(start + length, context.end),
            None,
            "status 01 with span-check values (~5x the limit): stored but never valid; no "
            "exceedance may be reported for this hour (counting them would make one)",
            level=5.0 * _limit(plant, "cod"),
        )
    ]  # fmt: skip


def _cod_spike(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "cod", "outlet", "cod-spike")
    hour = context.place("cod-spike", 1 / 6, 2, [f"{station}.cod"])
    start, end = context.span(hour, 2)
    level = 2.0 * _limit(plant, "cod")
    return [
        Episode(
            plant.id, station, "cod", "cod-spike", start, end, "exceedance",
            f"outlet COD ~{level:.0f} mg/L (about 2x the limit) for every full hour of the "
            "episode: hourly_mean exceedance, severity major",
            level=level,
        )
    ]  # fmt: skip


def _ph_excursion(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "ph", "outlet", "ph-excursion")
    episodes = []
    for fraction, level, finding in (
        (2 / 6, PH_HIGH, "exceedance"),
        (5 / 6, PH_LOW, "below_minimum"),
    ):
        hour = context.place("ph-excursion", fraction, 1, [f"{station}.ph"])
        start, end = context.span(hour, 1)
        side = "above the maximum 9" if level > PH_MEAN else "below the minimum 5.5"
        episodes.append(
            Episode(
                plant.id, station, "ph", "ph-excursion", start, end, finding,
                f"pH ~{level} for one hour, {side}", level=level,
            )
        )  # fmt: skip
    return episodes


def _stuck_sensor(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "nh4_n", "outlet", "stuck-sensor")
    hour = context.place("stuck-sensor", 2 / 6, 2, [f"{station}.nh4_n"])
    start, end = context.span(hour, 2)
    level = round(typical_level(plant, "nh4_n") * 1.04, 2)
    return [
        Episode(
            plant.id, station, "nh4_n", "stuck-sensor", start, end, "sensor_fault",
            f"NH4-N frozen at exactly {level} (status 00) for the whole episode: flatline",
            level=level,
        )
    ]  # fmt: skip


def _device_error(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "tss", "outlet", "device-error")
    hour = context.place("device-error", 3 / 6, 1, [f"{station}.tss"])
    start, end = context.span(hour, 1)
    return [
        Episode(
            plant.id, station, "tss", "device-error", start, end, "insufficient_data",
            f"TSS status 02 with value {DEVICE_ERROR_VALUE} for one hour: never valid, so no "
            "exceedance; the hour has no valid TSS data (insufficient_data)",
            level=DEVICE_ERROR_VALUE,
        )
    ]  # fmt: skip


def _drift(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "cod", "outlet", "drift")
    hour = context.place("drift", 4 / 6, 2, [f"{station}.cod"])
    start, end = context.span(hour, 2)
    target = 2.0 * _limit(plant, "cod")
    return [
        Episode(
            plant.id, station, "cod", "drift", start, end, "exceedance",
            f"COD drifts linearly up to ~{target:.0f} mg/L, crossing the limit about 40 % into "
            "the episode; the last full hour's mean exceeds; back to normal after the end",
            level=target - typical_level(plant, "cod"),
        )
    ]  # fmt: skip


def _bypass(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "flow_bypass", "bypass", "bypass")
    lanes = [f"{station}.flow_bypass"]
    outlet = _station_or_none(plant, "flow_out", "outlet")
    if outlet:
        lanes.append(f"{outlet}.flow_out")
    hour = context.place("bypass", 1 / 6, 1, lanes)
    start, end = context.span(hour, 1)
    return [
        Episode(
            plant.id, station, "flow_bypass", "bypass", start, end, "bypass",
            f"{BYPASS_SHARE:.0%} of the inflow leaves untreated through the bypass for one "
            "hour (outflow drops by the same): bypass, severity critical",
            level=BYPASS_SHARE,
        )
    ]  # fmt: skip


def _overload(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "flow_in", "inlet", "overload")
    lanes = [f"{station}.flow_in"]
    outlet = _station_or_none(plant, "flow_out", "outlet")
    if outlet:
        lanes.append(f"{outlet}.flow_out")
    hour = context.place("overload", 3 / 6, 3, lanes)
    start, end = context.span(hour, 3)
    design = hourly_design_flow(plant)
    return [
        Episode(
            plant.id, station, "flow_in", "overload", start, end, "treatment_shortfall",
            f"inflow ~{OVERLOAD_INFLOW * design:.0f} m3/h ({OVERLOAD_INFLOW:g}x the design rate) "
            f"while outflow is capped at {TREATMENT_CAPACITY * design:.0f} m3/h: the day's "
            "treated and compliant ratios fall below 100 % (judged on whole days only)",
            level=OVERLOAD_INFLOW * design,
        )
    ]  # fmt: skip


def _clock_skew(context: _Context) -> list[Episode]:
    plant = context.plant
    station = station_with(plant, "flow_in", "inlet", "clock-skew")
    hour = context.place("clock-skew", 0.0, 2, [f"{station}.*"])
    start, end = context.span(hour, 2)
    minutes = SKEW.total_seconds() / 60
    return [
        Episode(
            plant.id, station, None, "clock-skew", start, end, None,
            f"the station clock runs {minutes:g} min ahead: records of this window carry "
            "ts = true time + skew; stored at the stamped time, no finding",
            level=SKEW.total_seconds(),
        )
    ]  # fmt: skip


def _dropout(context: _Context) -> list[Episode]:
    plant = context.plant
    station = "outlet" if "outlet" in plant.stations else next(iter(plant.stations))
    hour = context.place("dropout", 3 / 6, 1, [f"{station}.*", f"link-{station}.*"])
    start, end = context.span(hour, 1)
    return [
        Episode(
            plant.id, station, None, "dropout", start, end, "no_data",
            "the station sends nothing for one hour: no_data for each of its parameters",
        )
    ]  # fmt: skip


def _link_outage(context: _Context) -> list[Episode]:
    plant = context.plant
    station = "outlet" if "outlet" in plant.stations else next(iter(plant.stations))
    hour = context.place("link-outage", 1 / 6, 1, [f"link-{station}.*"])
    start, end = context.span(hour, 1)
    return [
        Episode(
            plant.id, station, None, "link-outage", start, end, None,
            "records of the hour are held back and published as ONE array message when the "
            "link returns (at the end): once ingested, no no_data finding",
        )
    ]  # fmt: skip


def _duplicates(context: _Context) -> list[Episode]:
    plant = context.plant
    station = "outlet" if "outlet" in plant.stations else next(iter(plant.stations))
    return [
        Episode(
            plant.id, station, None, "duplicates", context.start, context.end, None,
            f"every {DUPLICATE_EVERY}th record of the station is published twice (same bytes): "
            "stored once, no double counting",
        )
    ]  # fmt: skip


MALFORMED_CLASSES = (
    "bad-json", "unknown-shape", "nan-inf", "non-numeric", "bad-id", "bad-time", "too-large",
)  # fmt: skip


def _malformed(context: _Context) -> list[Episode]:
    plant = context.plant
    station = "outlet" if "outlet" in plant.stations else next(iter(plant.stations))
    steps = max(0, math.ceil((context.end - context.start) / context.interval) - 1)
    at = context.start + (steps // 2) * context.interval
    return [
        Episode(
            plant.id, station, None, "malformed", at, at, None,
            f"one {name} message: dead-lettered with its reason, the collector keeps running",
            detail=name,
        )
        for name in MALFORMED_CLASSES
    ]  # fmt: skip


def _station_or_none(plant: Plant, key: str, preferred: str) -> str | None:
    try:
        return station_with(plant, key, preferred, "")
    except SimulatorError:
        return None


SCENARIOS: MappingProxyType[str, Callable[[_Context], list[Episode]]] = MappingProxyType(
    {
        "normal": _normal,
        "calibration": _calibration,
        "cod-spike": _cod_spike,
        "ph-excursion": _ph_excursion,
        "stuck-sensor": _stuck_sensor,
        "device-error": _device_error,
        "drift": _drift,
        "bypass": _bypass,
        "overload": _overload,
        "clock-skew": _clock_skew,
        "dropout": _dropout,
        "link-outage": _link_outage,
        "duplicates": _duplicates,
        "malformed": _malformed,
    }
)


def apply_episodes(
    episodes: Sequence[Episode],
    seconds: np.ndarray,
    steps: np.ndarray,
    series: dict[str, np.ndarray],
    stations: dict[str, StationBlock],
    plant: Plant,
) -> None:
    """Disturb one block in place. `seconds` = epoch seconds of the steps, `steps` = indices."""
    for episode in episodes:
        mask = (seconds >= episode.start.timestamp()) & (seconds < episode.end.timestamp())
        if not mask.any() and episode.kind != "duplicates":
            continue
        block = stations[episode.station]
        key = episode.parameter
        if episode.kind == "calibration" and key:
            wild = np.where(steps % 2 == 0, episode.level, 1.1 * episode.level)
            block.values[key] = np.where(mask, wild, block.values[key])
            block.status[key] = np.where(mask, 1, block.status[key])
        elif episode.kind in ("cod-spike", "factory-overload") and key:
            envelope = _trapezoid(seconds, episode, ramp=600.0)
            base = block.values[key]
            block.values[key] = base + (episode.level - typical_level(plant, key)) * envelope
        elif episode.kind == "ph-excursion" and key:
            shifted = episode.level + 0.5 * (block.values[key] - PH_MEAN)
            block.values[key] = np.where(mask, shifted, block.values[key])
        elif episode.kind == "stuck-sensor" and key:
            block.values[key] = np.where(mask, episode.level, block.values[key])
        elif episode.kind == "device-error" and key:
            block.values[key] = np.where(mask, episode.level, block.values[key])
            block.status[key] = np.where(mask, 2, block.status[key])
        elif episode.kind == "drift" and key:
            span = episode.end.timestamp() - episode.start.timestamp()
            progress = np.clip((seconds - episode.start.timestamp()) / span, 0.0, 1.0)
            block.values[key] = block.values[key] + np.where(mask, progress * episode.level, 0.0)
        elif episode.kind == "bypass" and key:
            diverted = episode.level * series["flow_in"]
            block.values[key] = np.where(mask, diverted, block.values[key])
            _set_flow(stations, "flow_out", np.where(mask, -diverted, 0.0), add=True)
        elif episode.kind == "overload":
            # Inflow rises within 15 min; the plant then runs at its hydraulic capacity (tanks
            # fill over ~45 min): no step changes or flat lines that would look like faults.
            design = hourly_design_flow(plant)
            wobble = 1.0 + 0.04 * np.sin(seconds / 1370.0) + 0.02 * np.sin(seconds / 530.0 + 1)
            rise = _trapezoid(seconds, episode, ramp=900.0)
            inflow = series["flow_in"] + (episode.level * wobble - series["flow_in"]) * rise
            _set_flow(stations, "flow_in", inflow, where=mask)
            fill = _trapezoid(seconds, episode, ramp=2700.0)
            outflow = series["flow_out"]
            outflow = outflow + (TREATMENT_CAPACITY * design * wobble[::-1] - outflow) * fill
            _set_flow(stations, "flow_out", outflow, where=mask)
        elif episode.kind == "clock-skew":
            block.skew = np.where(mask, episode.level, block.skew)
        elif episode.kind == "dropout":
            block.silent = block.silent | mask
        elif episode.kind == "link-outage":
            block.held = block.held | mask
        elif episode.kind == "duplicates":
            block.duplicate = block.duplicate | (steps % DUPLICATE_EVERY == DUPLICATE_EVERY // 2)


def _set_flow(
    stations: dict[str, StationBlock],
    key: str,
    values: np.ndarray,
    add: bool = False,
    where: np.ndarray | None = None,
) -> None:
    for block in stations.values():
        if key not in block.values:
            continue
        if add:
            block.values[key] = np.maximum(block.values[key] + values, 0.0)
        elif where is not None:
            block.values[key] = np.where(where, values, block.values[key])
        else:
            block.values[key] = values


def _trapezoid(seconds: np.ndarray, episode: Episode, ramp: float) -> np.ndarray:
    """0 outside the episode, 1 inside, with linear ramps of `ramp` seconds inside the edges."""
    start, end = episode.start.timestamp(), episode.end.timestamp()
    rise = np.clip((seconds - start) / ramp, 0.0, 1.0)
    fall = np.clip((end - seconds) / ramp, 0.0, 1.0)
    inside = (seconds >= start) & (seconds < end)
    return np.where(inside, np.minimum(rise, fall), 0.0)
