"""Episodes: consecutive failing windows or samples merged into one Finding.

The worst window/sample of a run gives the finding's value, limit, ratio and severity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from rules.findings import Finding

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_time(ns: int, zone: ZoneInfo) -> datetime:
    """UTC nanoseconds → aware datetime in the plant's zone (microsecond precision)."""
    return (_EPOCH + timedelta(microseconds=int(ns) // 1000)).astimezone(zone)


def runs(fail: np.ndarray, joined: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive True in `fail`.

    `joined[k]` says element k continues element k - 1 (adjacent window, no data gap); a
    False there splits a run even when both fail.
    """
    n = len(fail)
    if n == 0 or not fail.any():
        return []
    link = np.asarray(joined, dtype=bool).copy()
    link[0] = False
    continues = np.zeros(n, dtype=bool)
    continues[1:] = fail[1:] & fail[:-1] & link[1:]
    starts = np.flatnonzero(fail & ~continues)
    ends_next = np.zeros(n, dtype=bool)
    ends_next[:-1] = continues[1:]
    ends = np.flatnonzero(fail & ~ends_next) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


@dataclass(frozen=True, slots=True)
class Subject:
    """What the findings are about: plant, station, parameter, kind, basis, and the zone."""

    plant: str
    station: str
    parameter: str
    kind: str
    basis: str
    zone: ZoneInfo


def merge_episodes(
    subject: Subject,
    starts: np.ndarray,
    ends: np.ndarray,
    fail: np.ndarray,
    joined: np.ndarray,
    values: np.ndarray,
    limits: np.ndarray | None,
    badness: np.ndarray,
    severity: Callable[[float], str] | str,
    with_ratio: bool = True,
) -> list[Finding]:
    """One Finding per run of failing elements; the element with the largest `badness` is the
    worst. `severity` is a fixed severity or a function of the worst badness."""
    found: list[Finding] = []
    for i, j in runs(fail, joined):
        worst = i + int(np.argmax(badness[i:j]))
        value = float(values[worst])
        limit = None if limits is None else float(limits[worst])
        ratio = None
        if with_ratio and limit not in (None, 0.0):
            ratio = value / limit  # type: ignore[operator]
        level = severity if isinstance(severity, str) else severity(float(badness[worst]))
        found.append(Finding(
            plant=subject.plant, station=subject.station, parameter=subject.parameter,
            kind=subject.kind, basis=subject.basis,
            start=local_time(int(starts[i]), subject.zone),
            end=local_time(int(ends[j - 1]), subject.zone),
            value=value, limit=limit, ratio=ratio, severity=level,
        ))
    return found
