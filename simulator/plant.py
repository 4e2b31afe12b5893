"""The plant model: what a healthy industrial-cluster WWTP's stations would measure.

Inflow follows the cluster's working day (shifts ~7-17 h, a lunch dip, low at night, lower on
weekends) scaled to the permit's design flow; outflow follows inflow through the treatment lag;
effluent quality follows the load; every series carries AR(1) noise so neighbouring readings are
correlated as real sensors are. Seeded per plant (seed + plant id), so runs are reproducible and
cloned plants differ.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from rules.permit import Plant, RangeLimit

FLOW_KEYS = ("flow_in", "flow_out", "flow_bypass")
# QCVN 40:2011 Table 1 C values (columns A, B) as quoted in REGULATIONS.md. Used only to scale
# typical effluent levels and episode magnitudes; the monitor's limits come from `rules`.
_TABLE_C: dict[str, tuple[float, float]] = {
    "cod": (75.0, 150.0),
    "bod5": (30.0, 50.0),
    "tss": (50.0, 100.0),
    "nh4_n": (5.0, 10.0),
    "total_n": (20.0, 40.0),
    "total_p": (4.0, 6.0),
    "color": (50.0, 150.0),
    "oil_grease": (5.0, 10.0),
    "coliform": (3000.0, 5000.0),
}
# Kf bands by discharge flow (m³/day, upper bound inclusive) and the lowest Kq (lakes), both
# from REGULATIONS.md section 1.
_KF_BANDS = ((50.0, 1.2), (500.0, 1.1), (5000.0, 1.0))
_KF_ABOVE = 0.9
_KQ_LOWEST = 0.6
_KQ_HIGHEST = 1.3
# Parameters without Kq/Kf (REGULATIONS.md section 1).
_NO_COEFFICIENTS = frozenset({"temperature", "ph", "color", "coliform"})
# Typical treated-effluent level as a fraction of the reference limit (COD ~ 40-70 mg/L at B).
_TYPICAL_FRACTION: dict[str, float] = {"cod": 0.38, "tss": 0.22, "nh4_n": 0.27}
_DEFAULT_FRACTION = 0.3
# A member factory's pretreated discharge sits well inside its connection limits but far above
# a WWTP's effluent (the central plant removes the rest).
_FACTORY_FRACTION = 0.6
_GENERIC_LEVEL = 10.0  # parameters the simulator knows nothing about
PH_MEAN = 7.2
# Working-day inflow shape: (local hour, relative flow); normalised to a daily mean of 1.
WORKING_DAY = (
    (0.0, 0.50), (5.0, 0.42), (6.5, 0.75), (8.0, 1.40), (11.3, 1.50), (12.0, 1.05),
    (13.0, 1.05), (13.7, 1.45), (16.5, 1.45), (18.0, 1.00), (21.0, 0.65), (24.0, 0.50),
)  # fmt: skip
WEEK = (1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.55)  # day factors, Monday .. Sunday
FLAT_WEEK = (1.0,) * 7
_WEEKEND_AMPLITUDE = 0.5  # weekend days are flatter as well as lower
TREATMENT_LAG = timedelta(minutes=30)  # pure delay; plus ~45 min of tank mixing (smoothing)
_MIXING_TAU = timedelta(minutes=45)
_OUTFLOW_RATIO = 0.995  # sludge and evaporation losses
_LOAD_LAG = timedelta(hours=3)  # effluent quality reflects the load a few hours earlier


@dataclass(frozen=True, slots=True)
class Noise:
    """AR(1) noise of one series: correlation time and stationary standard deviation."""

    tau: timedelta
    sd: float


# Relative sd for concentrations and flows, absolute for temperature (°C) and pH.
_NOISE: dict[str, Noise] = {
    "flow_in": Noise(timedelta(minutes=90), 0.07),
    "flow_out": Noise(timedelta(minutes=30), 0.02),  # flow-meter noise on the routed flow
    "flow_in_meter": Noise(timedelta(minutes=30), 0.02),  # meter noise on a given inflow
    "temperature": Noise(timedelta(hours=3), 0.4),
    "ph": Noise(timedelta(hours=1), 0.12),
    "cod": Noise(timedelta(hours=2), 0.12),
    "tss": Noise(timedelta(hours=2), 0.15),
    "nh4_n": Noise(timedelta(hours=3), 0.15),
}
_DEFAULT_NOISE = Noise(timedelta(hours=2), 0.12)


def plant_seed(seed: int, plant_id: str, stream: str = "") -> np.random.SeedSequence:
    """The seed of one plant's (and one stream's) noise: seed + plant id, stable across runs."""
    words = [seed & 0xFFFFFFFF, zlib.crc32(plant_id.encode())]
    if stream:
        words.append(zlib.crc32(stream.encode()))
    return np.random.SeedSequence(words)


def reference_limit(plant: Plant, key: str, unknown_kq: float = 1.0) -> float | None:
    """The upper limit the simulator scales `key` against: the permit override, else
    C x Kq x Kf; `unknown_kq` stands in when the permit gives no Kq (receiving water only)."""
    override = plant.limits.get(key)
    if isinstance(override, RangeLimit):
        return override.max
    if override is not None:
        return float(override)
    columns = _TABLE_C.get(key)
    if columns is None:
        return None
    value = columns[0] if plant.column == "A" else columns[1]
    if key not in _NO_COEFFICIENTS:
        value *= (plant.kq or unknown_kq) * _kf(plant.design_flow_m3_day)
    return value


def _kf(flow_m3_day: float) -> float:
    """Kf by discharge flow band (REGULATIONS.md section 1)."""
    for upper, kf in _KF_BANDS:
        if flow_m3_day <= upper:
            return kf
    return _KF_ABOVE


def typical_level(plant: Plant, key: str) -> float:
    """The mean effluent level of `key` in normal operation (well inside the limit).

    Without a Kq in the permit, the lowest Kq of REGULATIONS.md is assumed, so the level stays
    compliant whatever water body the plant discharges into.
    """
    limit = reference_limit(plant, key, unknown_kq=_KQ_LOWEST)
    if limit is None:
        return _GENERIC_LEVEL
    if plant.kind == "factory":
        return limit * _FACTORY_FRACTION
    return limit * _TYPICAL_FRACTION.get(key, _DEFAULT_FRACTION)


def episode_limit(plant: Plant, key: str) -> float | None:
    """The limit episodes scale against: without a Kq in the permit the highest Kq is
    assumed, so an injected exceedance exceeds whatever the plant's real limit is."""
    return reference_limit(plant, key, unknown_kq=_KQ_HIGHEST)


def hourly_design_flow(plant: Plant) -> float:
    """The design flow as a mean hourly rate, m³/h."""
    return plant.design_flow_m3_day / 24.0


class PlantModel:
    """Generates the undisturbed value series of one plant, block by block.

    Holds the AR(1) states between blocks, so consecutive calls continue one smooth run.
    """

    def __init__(
        self, plant: Plant, seed: int, interval: timedelta,
        shape: Sequence[tuple[float, float]] = WORKING_DAY, week: Sequence[float] = WEEK,
    ) -> None:
        """`shape`: (local hour, relative flow) knots of a working day; `week`: day factors
        Monday .. Sunday (weekend days are also flattened when their factor is below 1)."""
        self.plant = plant
        self.keys = sorted({key for keys in plant.stations.values() for key in keys})
        self._zone = plant.zone
        self._interval = interval
        self._week = np.array(week, dtype=float)
        self._grid = np.arange(0.0, 24.0, 1.0 / 60.0)  # one day, per minute
        hours = np.array([knot[0] for knot in shape])
        values = np.array([knot[1] for knot in shape])
        weekday = np.interp(self._grid, hours, values)
        weekday = weekday / weekday.mean()
        weekend = 1.0 + _WEEKEND_AMPLITUDE * (weekday - 1.0)
        self._shapes = (weekday, weekend)
        self._delay = round(TREATMENT_LAG / interval)
        self._mixing = 1.0 - math.exp(-interval / _MIXING_TAU)
        self._pipe: deque[float] | None = None
        self._tank = 0.0
        self._noise: dict[str, _Ar1] = {}
        for key in (*self.keys, "flow_in", "flow_out", "flow_in_meter"):
            spec = _NOISE.get(key, _DEFAULT_NOISE)
            rng = np.random.default_rng(plant_seed(seed, plant.id, key))
            self._noise[key] = _Ar1(spec, interval, rng)
        self._white = np.random.default_rng(plant_seed(seed, plant.id, "white"))

    def series(
        self, times: Sequence[datetime], inflow: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Values of every configured key (plus flows) at the given aware times. `inflow`
        (m³/h), when given, is what actually reaches the plant (a cluster's network) in place
        of the modelled working day; the inlet meter then adds its own noise."""
        n = len(times)
        design = hourly_design_flow(self.plant)
        hour, day = self._clock(times, timedelta(0))
        load_hour, load_day = self._clock(times, _LOAD_LAG)
        load = self._relative(load_hour, load_day)
        out: dict[str, np.ndarray] = {}
        if inflow is None:
            inflow_rel = self._relative(hour, day)
            inflow = np.maximum(design * inflow_rel * (1 + self._noise["flow_in"].draw(n)), 0)
            out["flow_in"] = inflow
            treated = self._route(inflow, times[0])
        else:
            out["flow_in"] = np.maximum(
                inflow * (1 + self._noise["flow_in_meter"].draw(n)), 0)
            treated = self._route(inflow, times[0], level=float(inflow[0]))
        out["flow_out"] = np.maximum(
            _OUTFLOW_RATIO * treated * (1 + self._noise["flow_out"].draw(n)), 0
        )
        out["flow_bypass"] = np.zeros(n)
        white = self._white.standard_normal((len(self.keys), n))
        for index, key in enumerate(self.keys):
            if key in FLOW_KEYS:
                continue
            ar = self._noise[key].draw(n)
            if key == "temperature":
                daily = 29.5 + 2.0 * np.sin(2 * math.pi * (hour - 9.0) / 24.0)
                out[key] = daily + ar + 0.05 * white[index]
            elif key == "ph":
                out[key] = np.clip(PH_MEAN + ar + 0.03 * white[index], 6.4, 8.2)
            else:
                level = typical_level(self.plant, key)
                response = 1.0 + 0.25 * (load - 1.0)
                value = level * response * (1.0 + ar) + 0.02 * level * white[index]
                out[key] = np.maximum(value, 0.05 * level)
        return out

    def _clock(self, times: Sequence[datetime], lag: timedelta) -> tuple[np.ndarray, np.ndarray]:
        local = [(t - lag).astimezone(self._zone) for t in times]
        hour = np.array([t.hour + t.minute / 60.0 + t.second / 3600.0 for t in local])
        day = np.array([t.weekday() for t in local])
        return hour, day

    def _relative(self, hour: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Flow relative to the design rate: day-of-week factor x daily shape."""
        weekday = np.interp(hour, self._grid, self._shapes[0], period=24.0)
        weekend = np.interp(hour, self._grid, self._shapes[1], period=24.0)
        factor = self._week[day]
        return factor * np.where(factor < 1.0, weekend, weekday)

    def _route(
        self, inflow: np.ndarray, first: datetime, level: float | None = None
    ) -> np.ndarray:
        """Outflow before losses: the actual inflow delayed by the treatment lag and mixed
        in the tanks (first-order), carried across blocks so the volume balances."""
        if self._pipe is None:
            self._warm_up(first, level)
        pipe = self._pipe if self._pipe is not None else deque()
        tank, mixing = self._tank, self._mixing
        out = []
        for flow in inflow.tolist():
            delayed = pipe[0] if self._delay else flow
            if self._delay:
                pipe.append(flow)
            tank += mixing * (delayed - tank)
            out.append(tank)
        self._tank = tank
        return np.array(out, dtype=float)

    def _warm_up(self, first: datetime, level: float | None = None) -> None:
        """Fill the pipe and tank with the undisturbed inflow of the hours before the run
        (or a steady `level` when the inflow is given from outside)."""
        warm = self._delay + math.ceil(4 * _MIXING_TAU / self._interval)
        before = [first - (warm - i) * self._interval for i in range(warm)]
        hour, day = self._clock(before, timedelta(0))
        prior = ([level] * warm if level is not None
                 else (hourly_design_flow(self.plant) * self._relative(hour, day)).tolist())
        self._tank = prior[0]
        self._pipe = deque(maxlen=max(self._delay, 1))
        for flow in prior:
            delayed = self._pipe[0] if self._delay and len(self._pipe) == self._delay else flow
            if self._delay:
                self._pipe.append(flow)
            self._tank += self._mixing * (delayed - self._tank)


class _Ar1:
    """x[k] = phi x[k-1] + e[k], stationary sd `spec.sd`; phi from the correlation time."""

    def __init__(self, spec: Noise, interval: timedelta, rng: np.random.Generator) -> None:
        self._phi = math.exp(-interval / spec.tau)
        self._innovation = spec.sd * math.sqrt(1.0 - self._phi**2)
        self._rng = rng
        self._state = float(rng.normal(0.0, spec.sd))

    def draw(self, n: int) -> np.ndarray:
        shocks = (self._rng.standard_normal(n) * self._innovation).tolist()
        phi, state = self._phi, self._state
        out = []
        for shock in shocks:
            state = phi * state + shock
            out.append(state)
        self._state = state
        return np.array(out, dtype=float)
