"""Chronic non-compliance (`[checks.chronic]`, an anchor from US EPA's significant
non-compliance, REGULATIONS.md §7): which plants break their limits persistently, from the
monthly tallies of their judged hourly windows, and the order the console ranks them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rules.settings import ChronicRule
from rules.summary import Tally


@dataclass(frozen=True, slots=True)
class ParameterRecord:
    """One parameter of a plant over the rule's months (all its stations together)."""

    parameter: str
    judged: int
    over: int
    serious: int

    @property
    def over_share(self) -> float:
        return self.over / self.judged if self.judged else 0.0

    @property
    def serious_share(self) -> float:
        return self.serious / self.judged if self.judged else 0.0


@dataclass(frozen=True, slots=True)
class Standing:
    """A plant's record under the rule: chronic or not, the parameters that make it so, and
    the worst shares (what the ranking sorts by)."""

    plant: str
    chronic: bool
    parameters: tuple[ParameterRecord, ...]
    chronic_parameters: tuple[str, ...]
    over_share: float  # the worst parameter's share of windows over the limit
    serious_share: float  # the worst parameter's share of serious windows

    @property
    def judged(self) -> int:
        return sum(p.judged for p in self.parameters)


def standings(tallies: Iterable[Tally], rule: ChronicRule) -> dict[str, Standing]:
    """Each plant's standing from the monthly tallies of the rule's months (the caller picks
    the months); plants without a judged window stand clean with shares 0."""
    sums: dict[tuple[str, str], list[int]] = {}
    for tally in tallies:
        if tally.judged <= 0:
            continue
        total = sums.setdefault((tally.plant, tally.parameter), [0, 0, 0])
        total[0] += tally.judged
        total[1] += tally.over
        total[2] += tally.serious
    records: dict[str, list[ParameterRecord]] = {}
    for (plant, parameter), (judged, over, serious) in sorted(sums.items()):
        records.setdefault(plant, []).append(ParameterRecord(parameter, judged, over, serious))
    found: dict[str, Standing] = {}
    for plant, params in records.items():
        bad = tuple(p.parameter for p in params
                    if p.over_share >= rule.over_share or p.serious_share >= rule.serious_share)
        found[plant] = Standing(
            plant=plant, chronic=bool(bad), parameters=tuple(params), chronic_parameters=bad,
            over_share=max(p.over_share for p in params),
            serious_share=max(p.serious_share for p in params),
        )
    return found


def rank_key(standing: Standing | None) -> tuple[int, float, float]:
    """Sort key, worst first: chronic plants, then by share of windows over, then serious."""
    if standing is None:
        return (1, 0.0, 0.0)
    return (0 if standing.chronic else 1, -standing.over_share, -standing.serious_share)
