"""Regenerate month.csv for the sample report: a seeded simulator month as offline CSV."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from collector.errors import PayloadError
from collector.payload import parse_message
from quantrac.config import load_config
from rules.frame import status_column
from simulator.run import SimulateOptions, generate

config = load_config(Path("deploy/etc/quantrac/quantrac.toml"))
plant = config.plants[0]
start = datetime(2026, 10, 1, tzinfo=plant.zone)
options = SimulateOptions(scenario="cod-spike,calibration,dropout,bypass", start=start,
                          duration=timedelta(days=31), backfill=True, seed=42)
rows: dict[tuple[datetime, str], dict[str, object]] = {}
keys: set[str] = set()
for message in generate([plant], options):
    try:
        readings = parse_message(message.topic, message.payload)
    except PayloadError:
        continue
    for reading in readings:
        row = rows.setdefault((reading.ts, reading.station), {})
        for key, value in reading.values.items():
            row[key] = value
            keys.add(key)
            if key in reading.status:
                row[status_column(key)] = f"0{reading.status[key]}"
ordered = sorted(keys)
with open("month.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["time", "plant", "station", *ordered, *map(status_column, ordered)])
    for (ts, station), row in sorted(rows.items()):
        writer.writerow([ts.isoformat(), plant.id, station, *[row.get(k, "") for k in ordered],
                         *[row.get(status_column(k), "") for k in ordered]])
print(f"month.csv: {len(rows)} rows")
