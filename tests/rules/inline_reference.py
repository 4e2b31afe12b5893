"""The inline check on a readings frame, two ways: as it was before the quiet-series pre-filter
and the frame-less series (every series of the frame fully checked: the reference the
equivalence tests compare against, tests/rules/test_inline_equivalence.py and
tests/collector/test_inline_round.py), and the pre-filtered check of
`rules.evaluate.instantaneous_series_findings` fed from a frame (tests and bench_rules)."""

from __future__ import annotations

import pandas as pd

from rules import bases, quality
from rules.bases import Context
from rules.evaluate import instantaneous_series_findings
from rules.findings import Finding
from rules.limits import EffectiveLimits, single_schedule
from rules.permit import Plant
from rules.series import extract, plant_rows, station_rows
from rules.settings import CheckSettings
from rules.treatment import bypass_findings


def reference_findings(
    frame: pd.DataFrame, plant: Plant, settings: CheckSettings, limits: EffectiveLimits
) -> list[Finding]:
    """instantaneous_findings before the pre-filter: every series of the frame fully checked."""
    stations = station_rows(plant_rows(frame, plant.id))
    if not stations:
        return []
    ctx = Context(plant=plant.id, zone=plant.zone, interval=plant.interval_delta,
                  settings=settings, schedule=single_schedule(limits))
    findings: list[Finding] = []
    for station, rows in stations.items():
        for key in plant.stations.get(station, ()):
            if key not in rows.columns:
                continue
            series = extract(rows, station, key, settings)
            if len(series.times) == 0:
                continue
            findings += quality.faults(plant.id, ctx.zone, ctx.interval, series, settings)
            if key == "flow_bypass":
                findings += bypass_findings(ctx, series)
            if ("instantaneous" in settings.alert_bases
                    and station in settings.compliance_stations and key in limits.limits):
                findings += bases.instantaneous(ctx, series)
    findings.sort(key=lambda f: (f.start, f.station, f.parameter, f.kind, f.basis))
    return findings


def instantaneous_findings(
    frame: pd.DataFrame, plant: Plant, settings: CheckSettings, limits: EffectiveLimits
) -> list[Finding]:
    """The inline check of a batch given as a readings frame: the series of the frame's
    configured station/parameters through `instantaneous_series_findings`."""
    stations = station_rows(plant_rows(frame, plant.id))
    return instantaneous_series_findings(
        (extract(rows, station, key, settings)
         for station, rows in stations.items()
         for key in plant.stations.get(station, ()) if key in rows.columns),
        plant, settings, limits)
