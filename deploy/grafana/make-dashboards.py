#!/usr/bin/env python3
"""Write one Grafana dashboard per plant of a quantrac config (deploy/grafana/dashboards/).

Why generated: each plant has its own stations, parameters and permit limits; the limit lines
come from the same code the compliance checks use (`rules.limits.plant_limits`), so the
dashboard cannot drift from the checks. Run it with the project's virtualenv and again after
a permit change:

    .venv/bin/python deploy/grafana/make-dashboards.py deploy/compose/quantrac.toml \\
        --out deploy/grafana/dashboards

Panels (Flux over the SPEC schema: measurement `reading`, tags cluster/plant/station, one float
field per parameter; measurement `alert`): open alerts, each monitored parameter against its
limit lines, flows, daily treatment ratio and hourly data completeness.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quantrac.config import ConfigError, load_config  # noqa: E402
from rules.frame import STATUS_SUFFIX  # noqa: E402
from rules.limits import Limit, plant_limits  # noqa: E402
from rules.permit import Plant  # noqa: E402
from rules.vocabulary import Vocabulary  # noqa: E402

DATASOURCE = {"type": "influxdb", "uid": "quantrac-influxdb"}
FLOW_KEYS = ("flow_in", "flow_out", "flow_bypass")
ALERT_LOOKBACK = "-365d"
# REGULATIONS.md §4 default: a mean counts only with >= 75 % of the expected readings.
COMPLETENESS_LINE = 75
ENGLISH = Vocabulary.for_lang("en")  # Grafana's panel texts are English


def base_filter(plant: Plant, extra: str = "") -> str:
    return (
        "from(bucket: v.defaultBucket)\n"
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        f'  |> filter(fn: (r) => r._measurement == "reading" and r.plant == "{plant.id}"{extra})\n'
    )


def parameter_query(plant: Plant, station: str, key: str) -> str:
    return base_filter(plant, f' and r.station == "{station}" and r._field == "{key}"') + (
        "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n"
        '  |> keep(columns: ["_time", "_value", "_field"])\n'
    )


def flows_query(plant: Plant) -> str:
    fields = " or ".join(f'r._field == "{key}"' for key in FLOW_KEYS)
    return base_filter(plant, f" and ({fields})") + (
        "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n"
        '  |> keep(columns: ["_time", "_value", "_field"])\n'
    )


def treatment_query(plant: Plant, inlet: str, outlet: str) -> str:
    """Daily outflow ÷ inflow (ratio of daily mean flows = ratio of volumes), in plant days."""
    return (
        'import "timezone"\n'
        f'option location = timezone.location(name: "{plant.timezone}")\n'
        "flow = (station, field) => from(bucket: v.defaultBucket)\n"
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        f'  |> filter(fn: (r) => r._measurement == "reading" and r.plant == "{plant.id}"'
        " and r.station == station and r._field == field)\n"
        '  |> aggregateWindow(every: 1d, fn: mean, createEmpty: false, timeSrc: "_start")\n'
        '  |> keep(columns: ["_time", "_value"])\n'
        f'join(tables: {{i: flow(station: "{inlet}", field: "flow_in"), '
        f'o: flow(station: "{outlet}", field: "flow_out")}}, on: ["_time"])\n'
        '  |> map(fn: (r) => ({_time: r._time, _field: "treated ratio",'
        " _value: if r._value_i > 0.0 then r._value_o / r._value_i else 0.0}))\n"
    )


def alerts_query(plant: Plant, count: bool) -> str:
    """Latest point of every alert id of the plant whose state is not `resolved`."""
    query = (
        "from(bucket: v.defaultBucket)\n"
        f"  |> range(start: {ALERT_LOOKBACK})\n"
        f'  |> filter(fn: (r) => r._measurement == "alert" and r.plant == "{plant.id}")\n'
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        '  |> group(columns: ["id"])\n'
        '  |> sort(columns: ["_time"])\n'
        '  |> last(column: "_time")\n'
        "  |> group()\n"
        '  |> filter(fn: (r) => r.state != "resolved")\n'
    )
    if count:
        return query + '  |> count(column: "id")\n  |> rename(columns: {id: "open alerts"})\n'
    return query + (
        '  |> keep(columns: ["_time", "id", "station", "parameter", "kind", "severity",'
        ' "state", "value", "limit", "ratio"])\n'
        '  |> sort(columns: ["_time"], desc: true)\n'
    )


def completeness_query(plant: Plant, expected_per_hour: float) -> str:
    return base_filter(plant, f" and r._field !~ /{STATUS_SUFFIX}$/") + (
        "  |> aggregateWindow(every: 1h, fn: count, createEmpty: true)\n"
        f"  |> map(fn: (r) => ({{r with _value: float(v: r._value) / {expected_per_hour!r}"
        " * 100.0}))\n"
        '  |> keep(columns: ["_time", "_value", "station", "_field"])\n'
    )


def thresholds(limit: Limit | None) -> dict[str, Any]:
    """Grafana threshold steps drawing the limit lines: red outside [min, max]."""
    if limit is None:
        return {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    steps: list[dict[str, Any]] = []
    if limit.min is not None:
        steps += [{"color": "red", "value": None}, {"color": "green", "value": limit.min}]
    else:
        steps.append({"color": "green", "value": None})
    if limit.max is not None:
        steps.append({"color": "red", "value": limit.max})
    return {"mode": "absolute", "steps": steps}


def panel(
    panel_id: int,
    title: str,
    kind: str,
    query: str,
    grid: tuple[int, int, int, int],
    defaults: dict[str, Any] | None = None,
    description: str = "",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "query": query}],
        "fieldConfig": {"defaults": defaults or {}, "overrides": []},
        "options": options or {},
    }


def unit_of(key: str, limit: Limit | None) -> str:
    if key in FLOW_KEYS:
        return "suffix: m³/h"
    if limit is not None and limit.unit:
        return f"suffix: {limit.unit}"
    return "none"


def station_with(plant: Plant, key: str) -> str | None:
    return next((station for station, keys in plant.stations.items() if key in keys), None)


def build_dashboard(plant: Plant, on: datetime) -> dict[str, Any]:
    """The dashboard JSON of one plant, with the limits in force on `on` (plant-local)."""
    limits = plant_limits(plant, on.astimezone(plant.zone).date())
    panels: list[dict[str, Any]] = []
    next_id = iter(range(1, 1000))

    panels.append(
        panel(
            next(next_id),
            "Open alerts",
            "stat",
            alerts_query(plant, count=True),
            (0, 0, 6, 6),
            {
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
                },
                "noValue": "0",
            },
            "Alerts whose latest state is not resolved (measurement `alert`).",
        )
    )
    panels.append(
        panel(
            next(next_id),
            "Open alerts: detail",
            "table",
            alerts_query(plant, count=False),
            (6, 0, 18, 6),
            description="Latest point of each open alert id.",
        )
    )
    y = 6
    column = 0
    for station, keys in plant.stations.items():
        for key in keys:
            if key in FLOW_KEYS:
                continue
            limit = limits.get(key)
            shown = (
                "no limit"
                if limit is None
                else " – ".join(
                    f"{label} {value:g}"
                    for label, value in (("min", limit.min), ("max", limit.max))
                    if value is not None
                )
            )
            panels.append(
                panel(
                    next(next_id),
                    f"{station}: {key} ({shown})",
                    "timeseries",
                    parameter_query(plant, station, key),
                    (column * 12, y, 12, 8),
                    {
                        "unit": unit_of(key, limit),
                        "thresholds": thresholds(limit),
                        "custom": {"thresholdsStyle": {"mode": "line+area"}, "spanNulls": False},
                    },
                    f"{key} at {station} against the effective limit "
                    f"({limits.source_text(key, ENGLISH) if limit else 'none set'}); "
                    "red = outside. "
                    "Window means of all readings, including calibrating/device-error ones.",
                )
            )
            column = 1 - column
            y += 8 if column == 0 else 0
    y += 8 if column == 1 else 0

    panels.append(
        panel(
            next(next_id),
            "Flows (m³/h)",
            "timeseries",
            flows_query(plant),
            (0, y, 12, 8),
            {"unit": "suffix: m³/h"},
            "Any flow on the bypass station is untreated discharge.",
        )
    )
    inlet, outlet = station_with(plant, "flow_in"), station_with(plant, "flow_out")
    if inlet and outlet:
        panels.append(
            panel(
                next(next_id),
                "Treated ratio (daily outflow ÷ inflow)",
                "timeseries",
                treatment_query(plant, inlet, outlet),
                (12, y, 12, 8),
                {
                    "unit": "percentunit",
                    "min": 0,
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [
                            {"color": "red", "value": None},
                            {"color": "green", "value": 1.0},
                        ],
                    },
                    "custom": {"drawStyle": "bars", "thresholdsStyle": {"mode": "line"}},
                },
                "Target 100 % (REGULATIONS.md §6); the reports' compliant-treatment rate "
                "is stricter.",
            )
        )
    y += 8
    interval_s = plant.interval_delta.total_seconds()
    panels.append(
        panel(
            next(next_id),
            "Data completeness (% of expected readings per hour)",
            "timeseries",
            completeness_query(plant, 3600 / interval_s),
            (0, y, 24, 8),
            {
                "unit": "percent",
                "min": 0,
                "max": 100,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": "red", "value": None},
                        {"color": "green", "value": COMPLETENESS_LINE},
                    ],
                },
                "custom": {"thresholdsStyle": {"mode": "line"}},
            },
            f"Readings received per hour ÷ {3600 / interval_s:g} expected (interval "
            f"{plant.interval}); the line is the 75 % a valid hourly mean needs.",
        )
    )
    return {
        "uid": f"quantrac-{plant.id}"[:40],
        "title": f"{plant.name} ({plant.id})",
        "tags": ["quantrac", plant.cluster, plant.id],
        "timezone": plant.timezone,
        "editable": False,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "deploy" / "grafana" / "dashboards")
    parser.add_argument("--on", help="limits in force on this ISO date/time (default: now)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"make-dashboards: {exc}", file=sys.stderr)
        return 2
    on = datetime.fromisoformat(args.on) if args.on else datetime.now().astimezone()
    args.out.mkdir(parents=True, exist_ok=True)
    for plant in config.plants:
        path = args.out / f"{plant.id}.json"
        path.write_text(json.dumps(build_dashboard(plant, on), indent=2, ensure_ascii=False) + "\n")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
