import time, csv
from datetime import datetime, timedelta, UTC
from pathlib import Path
from collector.payload import parse_message
from quantrac.config import load_config
from simulator.run import SimulateOptions, generate
from collector.errors import PayloadError

config = load_config(Path("deploy/etc/quantrac/quantrac.toml"))
plant = config.plants[0]
start = datetime(2026, 10, 1, tzinfo=plant.zone)
opts = SimulateOptions(scenario="cod-spike,calibration,dropout,bypass", start=start,
                       duration=timedelta(days=31), backfill=True, seed=42)
rows = {}
keys = set()
for m in generate([plant], opts):
    try:
        readings = parse_message(m.topic, m.payload)
    except PayloadError:
        continue
    for r in readings:
        row = rows.setdefault((r.ts, r.station), {})
        for k, v in r.values.items():
            row[k] = v; keys.add(k)
            if k in r.status:
                row[k + "_status"] = f"0{r.status[k]}"
keys = sorted(keys)
with open("month.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["time", "plant", "station", *keys, *[k + "_status" for k in keys]])
    for (ts, st), row in sorted(rows.items()):
        w.writerow([ts.isoformat(), plant.id, st, *[row.get(k, "") for k in keys],
                    *[row.get(k + "_status", "") for k in keys]])
print(len(rows))
