"""`quantrac demo`: the main job on the embedded default, end to end on real servers.

A private Mosquitto and InfluxDB on loopback, the Kim Bai simulator, the collector with its
scheduled checks, live alerts on the terminal, the console (its URL and a demo login printed),
a report in ./out/; everything it started is stopped again, also on Ctrl-C. With `--keep` the
simulator goes on in real time after the accelerated hours, and simulator, collector and
console run until Ctrl-C.
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
from console.accounts import Accounts, Role, new_password
from console.database import Database
from console.errors import ConsoleError
from console.server import BackgroundServer
from console.settings import parse_listen
from quantrac.config import Config, ConfigError, parse_config
from quantrac.reporting import write_plant_report
from quantrac.stack import LocalStack, terminate_on_sigterm
from quantrac.web import build_console
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

    def go_live(self) -> None:
        """From now on follow the wall clock (`--keep`: the simulated hours caught up)."""
        self.start, self.speed, self._frozen = datetime.now(UTC), 1.0, None
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


def demo_accounts(state_dir: Path) -> list[tuple[str, str, str]]:
    """A demo operator (Kim Bai) and a demo regulator in the demo's private state directory:
    (name, role, password) with passwords made for this run."""
    accounts = Accounts(Database(state_dir))
    made: list[tuple[str, str, str]] = []
    roles: tuple[tuple[str, Role, list[str]], ...] = (
        ("demo-operator", "operator", [KIM_BAI["id"]]), ("demo-regulator", "regulator", []))
    for name, role, plants in roles:
        password = new_password()
        accounts.add(name, role, password, datetime.now(UTC), plants=plants)
        made.append((name, role, password))
    return made


def start_console(config: Config, clock: SimulatedClock) -> tuple[BackgroundServer, Any]:
    """The console over the demo's state on `[web] listen` (127.0.0.1:8080), or on a free
    port when that one is taken (another console, another demo)."""
    app, backend = build_console(config, clock=clock)
    host, port = parse_listen(config.web.listen)
    try:
        server = BackgroundServer(app, host, port)
    except ConsoleError:
        server = BackgroundServer(app, host, 0)
    try:
        return server.start(), backend
    except BaseException:
        backend.close()
        raise


def keep_running(plant: Plant, config: Config, seed: int, clock: SimulatedClock,
                 say: Any) -> tuple[int, int]:
    """`--keep`: the simulator in real time from now until Ctrl-C (or SIGTERM); (records,
    messages) published."""
    clock.go_live()
    say("")
    say("--keep: simulator, collector and console keep running (a reading every "
        f"{plant.interval}); Ctrl-C stops them")
    options = SimulateOptions(scenario="normal", start=clock(), duration=timedelta(days=30),
                              seed=seed + 1)
    stop = threading.Event()
    counted = {"records": 0, "messages": 0}

    def publish() -> None:
        done = run_simulation([plant], config.mqtt, options, stop=stop)
        counted.update(records=done.records, messages=done.messages)

    # On a thread, so Ctrl-C reaches this one at once and the publisher ends in an orderly way.
    worker = threading.Thread(target=publish, name="demo-keep", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except (KeyboardInterrupt, SystemExit):
        say("stopping …")
    finally:
        stop.set()
        worker.join(10)
    return counted["records"], counted["messages"]


def run(hours: float, scenario: str, out: Path, seed: int, keep: bool = False) -> int:
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
        console, backend = start_console(config, clock)
        say(f"console: {console.url}/ (public page {console.url}/public/{plant.id}, "
            f"gate board {console.url}/public/{plant.id}/board)")
        for name, role, password in demo_accounts(config.state.dir):
            say(f"  demo login ({role}): {name} / {password}")
        say(f"simulating {hours:g} h of {plant.name} ({scenario}) at {speed:.0f}x; "
            "live alerts below")
        stop = threading.Event()
        kept = (0, 0)
        try:
            clock.restart()
            summary = run_simulation([plant], config.mqtt, options, stop=stop)
            end = start + duration
            if keep:
                kept = keep_running(plant, config, seed, clock, say)
                end = clock()
            else:
                clock.freeze()
            collector.wait_idle(60)
            time.sleep(1.5)  # let the outbox deliver the last notifications
            stored = InfluxV1Store(config.influx).count(plant.id)  # the demo runs InfluxDB 1.x
            frame = collector.store.read_frame(plant.id, start, end)
            alerts = collector.alerts.list_alerts(open_only=False)
            intake = collector.summary()
        finally:
            stop.set()
            console.stop()
            backend.close()
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
    say(f"  records published : {summary.records + kept[0]} in "
        f"{summary.messages + kept[1]} messages")
    say(f"  records stored    : {stored} (InfluxDB count)")
    say(f"  dead letters      : {intake['dead_letters']}")
    say(f"  alerts            : {len(alerts)} "
        f"({', '.join(sorted({f'{a.parameter}/{a.kind}/{a.severity}' for a in alerts})) or '-'})")
    say(f"  report files      : {', '.join(str(p) for p in written)}")
    say(f"  wall time         : {time.monotonic() - began:.1f} s; servers stopped")
    ok = stored == summary.records + kept[0] - summary.duplicates - summary.malformed \
        or stored > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(6, "cod-spike", Path("out"), 7))
