"""Prometheus text exposition for the collector's counters (no client library needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    """A fixed-bucket histogram: constant memory however long the service runs."""

    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(DEFAULT_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.total += seconds
            self.n += 1
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    self.counts[i] += 1
                    return
            self.counts[-1] += 1

    def render(self, name: str, help_text: str) -> list[str]:
        with self._lock:
            lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
            running = 0
            for bound, count in zip(self.buckets, self.counts, strict=False):
                running += count
                lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
            lines.append(f"{name}_sum {self.total:.6f}")
            lines.append(f"{name}_count {self.n}")
        return lines


def _label_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


def render_metric(
    name: str, kind: str, help_text: str,
    samples: Iterable[tuple[Mapping[str, str], float]],
) -> list[str]:
    """One counter/gauge family in Prometheus text format."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_label_text(labels)} {value:g}" for labels, value in samples]
    return lines


class IntakeCounters(Protocol):
    """The intake counters the exposition shows (`collector.intake.IntakeStats`)."""

    records_received: int
    records_stored: int
    records_spooled: int
    dead_letters: int
    write_seconds: Histogram


def collector_exposition(
    intake: IntakeCounters,
    spool_depth: int,
    check_seconds: Histogram,
    alert_states: Mapping[str, int],
    station_ages: Mapping[tuple[str, str], float],
) -> str:
    """The collector's /metrics page: intake counters, write and check latency, spool depth,
    open alerts by state and seconds since each (plant, station)'s newest record."""
    lines = [
        *render_metric("quantrac_records_received_total", "counter",
                       "records received over MQTT", [({}, intake.records_received)]),
        *render_metric("quantrac_records_stored_total", "counter",
                       "records written to InfluxDB", [({}, intake.records_stored)]),
        *render_metric("quantrac_records_spooled_total", "counter",
                       "records spooled to disk while InfluxDB was down",
                       [({}, intake.records_spooled)]),
        *render_metric("quantrac_dead_letters_total", "counter",
                       "messages rejected to the dead-letter store", [({}, intake.dead_letters)]),
        *intake.write_seconds.render("quantrac_write_seconds", "InfluxDB write latency"),
        *render_metric("quantrac_spool_depth", "gauge", "records waiting in the spool",
                       [({}, spool_depth)]),
        *check_seconds.render("quantrac_check_seconds",
                              "duration of a scheduled check of one plant"),
        *render_metric("quantrac_alerts", "gauge", "open alerts by state",
                       [({"state": k}, v) for k, v in sorted(alert_states.items())]),
        *render_metric(
            "quantrac_station_last_seen_seconds", "gauge",
            "seconds since the newest record of a station",
            [({"plant": p, "station": st}, age) for (p, st), age in sorted(station_ages.items())],
        ),
    ]
    return "\n".join(lines) + "\n"
