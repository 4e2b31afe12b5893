"""Prometheus text exposition for the collector's counters (no client library needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
