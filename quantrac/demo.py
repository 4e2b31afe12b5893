"""`quantrac demo`: the main job on the embedded default, end to end on real servers.

A private Mosquitto and InfluxDB on loopback, the Kim Bai simulator, the collector with its
scheduled checks, live alerts on the terminal, a report in ./out/; everything it started is
stopped again, also on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from collector.influx1 import InfluxV1Store
from collector.service import Collector
from quantrac.config import Config, ConfigError, parse_config
from quantrac.reporting import write_plant_report
from quantrac.stack import LocalStack, terminate_on_sigterm
from rules.frame import status_column
from rules.permit import Plant
from simulator.errors import SimulatorError
from simulator.run import SimulateOptions, plan_simulation, run_simulation

# The Kim Bai plant as its permit describes it (SPEC config example).
KIM_BAI: dict[str, Any] = {
    "id": "kim-bai",
    "cluster": "kim-bai",
    "name": "Kim Bai Industrial Cluster WWTP",
    "timezone": "Asia/Ho_Chi_Minh",
    "design_flow_m3_day": 1500,
    "regulation": "qcvn40-2011",
    "column": "B",
    "kq": 0.9,
    "interval": "5m",
    "stations": {
        "inlet": ["flow_in"],
        "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"],
        "bypass": ["flow_bypass"],
    },
}
# Simulated hours are compressed into about this many wall-clock seconds (the test of the
# demo shortens it with QUANTRAC_DEMO_SECONDS).
TARGET_SECONDS = 40.0


class SimulatedClock:
    """The collector's clock during the demo: simulated time, running `speed` times faster."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

        self._frozen: datetime | None = None

    def restart(self) -> None:
        self._t0 = time.monotonic()

    def freeze(self) -> None:
        """Stop simulated time when the simulator stops (no false `no_data` afterwards)."""
        self._frozen = self()

    def __call__(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


def demo_config(stack: LocalStack, state_dir: Path) -> Config:
    return parse_config(
        {
            "mqtt": {"url": stack.mqtt_url, "client_id": "quantrac-demo"},
            "influx": {"url": stack.influx_url, "database": "quantrac"},
            "state": {"dir": str(state_dir)},
            "plants": [KIM_BAI],
            "alerts": {
                "lang": "en",
                # Simulated time runs ~500x: remind only once per simulated half day.
                "renotify_interval": "12h",
                "escalation_after": "12h",
                "channels": {"terminal": {"type": "terminal"}, "mqtt": {"type": "mqtt"}},
            },
        },
        source="demo config",
    )


def hourly_means(frame: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """Hourly means of valid (status 00) readings per station, in plant-local time."""
    rows = []
    for station, keys in plant.stations.items():
        part = frame[frame["station"] == station]
        if part.empty:
            continue
        local = part.set_index(part["time"].dt.tz_convert(plant.zone))
        cols = {}
        for key in keys:
            if key in local.columns:
                # Every frame carries <key>_status (docs/architecture.md).
                valid = local[key].where(local[status_column(key)] == 0)
                cols[key] = valid.resample("1h").mean().round(3)
        table = pd.DataFrame(cols)
        table.insert(0, "station", station)
        rows.append(table)
    result = pd.concat(rows).rename_axis("hour").reset_index()
    return result.sort_values(["hour", "station"])


def run(hours: float, scenario: str, out: Path, seed: int) -> int:
    began = time.monotonic()
    say = lambda text: print(text, flush=True)  # noqa: E731
    if not hours > 0:
        raise ConfigError(f"--hours must be positive, got {hours:g}")
    duration = timedelta(hours=hours)
    seconds = float(os.environ.get("QUANTRAC_DEMO_SECONDS", TARGET_SECONDS))
    speed = max(1.0, duration.total_seconds() / seconds)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - duration
    start -= timedelta(minutes=start.minute % 5)
    try:  # bad flags are usage errors (exit 2), found before any server starts
        options = SimulateOptions(scenario=scenario, start=start, duration=duration,
                                  speed=speed, seed=seed)
        plan_simulation([Plant.model_validate(KIM_BAI)], options)
    except SimulatorError as exc:
        raise ConfigError(str(exc)) from exc
    # Skipped overlapping check runs are expected at 500x time; keep the terminal for alerts.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with terminate_on_sigterm(), tempfile.TemporaryDirectory(prefix="quantrac-demo-") as tmp, \
            LocalStack() as stack:
        say(f"quantrac demo: Mosquitto {stack.mqtt_url}, InfluxDB {stack.influx_url} (private)")
        stack.create_database("quantrac")
        config = demo_config(stack, Path(tmp) / "state")
        plant = config.plants[0]
        clock = SimulatedClock(start, speed)
        collector = Collector(
            config.mqtt, config.influx, config.state, config.plants, config.checks,
            config.alerts, check_every=timedelta(seconds=5), lang="en", clock=clock,
        )
        collector.start()
        say(f"simulating {hours:g} h of {plant.name} ({scenario}) at {speed:.0f}x; "
            "live alerts below")
        stop = threading.Event()
        try:
            clock.restart()
            summary = run_simulation([plant], config.mqtt, options, stop=stop)
            clock.freeze()
            collector.wait_idle(60)
            end = start + duration
            time.sleep(1.5)  # let the outbox deliver the last notifications
            stored = InfluxV1Store(config.influx).count(plant.id)  # the demo runs InfluxDB 1.x
            frame = collector.store.read_frame(plant.id, start, end)
            alerts = collector.alerts.list_alerts(open_only=False)
            intake = collector.summary()
        finally:
            stop.set()
            collector.stop()
        out.mkdir(parents=True, exist_ok=True)
        hourly = out / f"{plant.id}_hourly_means.csv"
        hourly_means(frame, plant).to_csv(hourly, index=False)
        written = [hourly]
        try:
            written += write_plant_report(config, plant, start, end, None, ["html", "pdf", "csv"],
                                          "en", out, frame=frame)
        except Exception as exc:
            say(f"full report not written: {exc}")
    say("")
    say("summary")
    say(f"  records published : {summary.records} in {summary.messages} messages")
    say(f"  records stored    : {stored} (InfluxDB count)")
    say(f"  dead letters      : {intake['dead_letters']}")
    say(f"  alerts            : {len(alerts)} "
        f"({', '.join(sorted({f'{a.parameter}/{a.kind}/{a.severity}' for a in alerts})) or '-'})")
    say(f"  report files      : {', '.join(str(p) for p in written)}")
    say(f"  wall time         : {time.monotonic() - began:.1f} s; servers stopped")
    ok = stored == summary.records - summary.duplicates - summary.malformed or stored > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(6, "cod-spike", Path("out"), 7))
