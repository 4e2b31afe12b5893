"""One function per `quantrac` command: load config/data, call the stages, print results."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from alerts.settings import AlertSettings
from collector.partition import Partition
from quantrac.config import Config, ConfigError, load_config
from quantrac.logformat import configure_logging
from quantrac.sources import csv_span, load_frame, month_bounds
from quantrac.web import run_users, run_web
from reports.circular10 import export_circular10
from reports.settings import FORMATS as REPORT_FORMATS
from rules.permit import Plant, parse_duration
from rules.results import CheckResult
from simulator.errors import SimulatorError

# A stage that costs start-up time is imported inside the commands that use it, so that
# `--help`, `config check` or `limits` do not load it. Measured (import after quantrac.cli's
# own imports, best of 5): quantrac.demo 0.67 s and quantrac.reporting 0.62 s (matplotlib,
# reportlab), collector.service 145 ms, alerts.manager 47 ms, rules.evaluate 28 ms,
# simulator.run 26 ms, rules.limits 17 ms. The modules above cost under 5 ms together.


def dispatch(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": run_demo,
        "collect": run_collect,
        "simulate": run_simulate,
        "limits": run_limits,
        "check": run_check,
        "report": run_report,
        "export": run_export,
        "alerts": run_alerts,
        "config": run_config,
        "web": run_web,
        "users": run_users,
    }
    return handlers[args.command](args)


# -- helpers shared by commands ---------------------------------------------------------------
def parse_iso(text: str, flag: str) -> datetime:
    """An ISO 8601 time with offset (a bare date means its midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{flag}: not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"{flag}: {text!r} needs a UTC offset, e.g. {text}+07:00")
    return moment


def select_plants(config: Config, plant_id: str | None) -> list[Plant]:
    if plant_id:
        return [config.plant(plant_id)]
    if not config.plants:
        raise ConfigError("the config has no [[plants]]")
    return list(config.plants)


def resolve_period(
    args: argparse.Namespace, config: Config, plants: list[Plant]
) -> tuple[datetime, datetime]:
    """--from/--to, --month (plant-local), or the span of the CSV file."""
    month = getattr(args, "month", None)
    if month and (args.start or args.end):
        raise ConfigError("give either --month or --from/--to, not both")
    if month:
        return month_bounds(month, plants[0].zone)
    if args.start and args.end:
        start, end = parse_iso(args.start, "--from"), parse_iso(args.end, "--to")
        if end <= start:
            raise ConfigError("--to must be after --from")
        return start, end
    if args.start or args.end:
        raise ConfigError("give both --from and --to")
    if getattr(args, "csv", None):
        return csv_span(args.csv, plants)
    raise ConfigError("give --from and --to (or --csv)")


def evaluate_plants(
    config: Config, plants: list[Plant], start: datetime, end: datetime, csv_path: str | None
) -> tuple[CheckResult, dict[str, pd.DataFrame]]:
    from rules.evaluate import evaluate  # lazy: start-up (see the imports)

    now = min(datetime.now(UTC), end)
    results: list[CheckResult] = []
    frames: dict[str, pd.DataFrame] = {}
    for plant in plants:
        frame = load_frame(config, plant, start, end, csv_path)
        frames[plant.id] = frame
        results.append(evaluate(frame, plant, config.checks, start, end, now))
    merged = CheckResult(
        findings=[f for r in results for f in r.findings],
        treatment=[t for r in results for t in r.treatment],
        completeness=[c for r in results for c in r.completeness],
    )
    return merged, frames


def print_json(doc: object) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def stop_event_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# -- commands ---------------------------------------------------------------------------------
def run_config(args: argparse.Namespace) -> int:
    config = load_config(Path(args.file))
    print(f"{args.file}: ok ({len(config.plants)} plant(s): "
          f"{', '.join(p.id for p in config.plants) or 'none'})")
    return 0


def run_limits(args: argparse.Namespace) -> int:
    from rules.limits import effective_limits, render_limits_text  # lazy: start-up

    limits = effective_limits(args.regulation, args.column, kq=args.kq, flow_m3_day=args.flow)
    if args.json:
        print_json(limits.to_json())
    else:
        print(render_limits_text(limits))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from rules.evaluate import render_text  # lazy: start-up

    config = load_config(Path(args.config))
    plants = select_plants(config, args.plant)
    start, end = resolve_period(args, config, plants)
    result, _ = evaluate_plants(config, plants, start, end, args.csv)
    result = with_clusters(result, config, None if args.plant is None else plants, start, end,
                           args.csv)
    if args.json:
        print_json(result.to_json())
    else:
        print(render_text(result))
    return 0


def with_clusters(
    result: CheckResult, config: Config, plants: list[Plant] | None,
    start: datetime, end: datetime, csv_path: str | None,
) -> CheckResult:
    """`result` plus the ledger of every cluster (`plants` None) or of the checked plants'
    clusters; a plant alone in its cluster has only its treatment rows."""
    from rules.collection import cluster_ledger, reading_span

    now = min(datetime.now(UTC), end)
    checked = None if plants is None else {p.id for p in plants}
    rows, findings = [], []
    for layout in config.layouts():
        involved = {p.id for p in layout.plants}
        if (checked is not None and not checked & involved) or not layout.keeps_ledger:
            continue
        # The ledger reads one bridged flow step past `end` (rules.collection.reading_span).
        span = reading_span(layout, config.checks, start, end)
        ledger_frames = {p.id: load_frame(config, p, *span, csv_path) for p in layout.plants}
        ledger = cluster_ledger(layout, ledger_frames, config.checks, start, end, now)
        rows += ledger.rows
        findings += ledger.findings
    return dataclasses.replace(result, findings=result.findings + findings, clusters=rows)


def run_report(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    if args.format:
        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        unknown = [f for f in formats if f not in REPORT_FORMATS]
        if unknown or not formats:
            raise ConfigError(f"--format: unknown report format(s) {unknown or args.format!r} "
                              f"(use {','.join(REPORT_FORMATS)})")
    else:
        formats = list(config.reports.formats)
    lang = args.lang or config.reports.lang
    if args.cluster is not None or args.province:
        paths = _rollup_report(args, config, formats, lang)
    else:
        from quantrac.reporting import write_plant_report  # lazy: start-up

        plant = config.plant(args.plant)
        start, end = resolve_period(args, config, [plant])
        paths = write_plant_report(config, plant, start, end, args.csv, formats, lang,
                                   Path(args.out))
    for path in paths:
        print(path)
    return 0


def _rollup_report(
    args: argparse.Namespace, config: Config, formats: list[str], lang: str
) -> list[Path]:
    """`report --cluster ID` or `report --province`: a calendar month (SPEC)."""
    from quantrac.rollup import write_cluster, write_province  # lazy: start-up

    flag = "--province" if args.province else "--cluster"
    if args.start or args.end:
        raise ConfigError(f"{flag} reports cover a calendar month: give --month, not --from/--to")
    if not args.month:
        raise ConfigError(f"{flag} needs --month YYYY-MM")
    if args.province:
        if args.csv:
            raise ConfigError("--province reads the collector's check book and InfluxDB; "
                              "--csv is for --plant and --cluster reports")
        return write_province(config, args.month, formats, lang, Path(args.out),
                              progress=lambda line: print(line, file=sys.stderr))
    return write_cluster(config, args.cluster, args.month, args.csv, formats, lang,
                         Path(args.out))


def run_export(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    plant = config.plant(args.plant)
    start, end = parse_iso(args.start, "--from"), parse_iso(args.end, "--to")
    if end <= start:
        raise ConfigError("--to must be after --from")
    frame = load_frame(config, plant, start, end, args.csv)
    progress = _progress_bar("export") if sys.stderr.isatty() or os.environ.get("CI") else None
    paths = export_circular10(frame, plant, start, end, Path(args.out), config.reports.circular10,
                              progress)
    print(f"{len(paths)} file(s) written to {args.out}")
    return 0


def _progress_bar(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
        sys.stderr.flush()

    return show


def _state_dir(args: argparse.Namespace) -> tuple[Path, Config | None]:
    if getattr(args, "config", None):
        config = load_config(Path(args.config))
        return config.state.dir, config
    return Path(os.environ.get("QUANTRAC_STATE_DIR", ".quantrac")), None


def run_alerts(args: argparse.Namespace) -> int:
    from alerts.manager import AlertManager, render_alert_table  # lazy: start-up

    state_dir, config = _state_dir(args)
    if not (state_dir / "alerts.sqlite").exists():
        if args.alerts_command == "ack":
            raise ConfigError(f"no alert book in {state_dir} (is the collector's state dir right?)")
        print("no alerts")
        return 0
    manager = AlertManager(
        config.alerts if config else AlertSettings(), list(config.plants) if config else [],
        state_dir,
    )
    try:
        if args.alerts_command == "list":
            alerts = manager.list_alerts(open_only=args.open)
            if args.json:
                print_json([a.to_json() for a in alerts])
            else:
                print(render_alert_table(alerts))
            return 0
        if args.reason == "other" and not (args.note or "").strip():
            raise ConfigError("--reason other needs --note TEXT")
        alert = manager.ack(args.id, args.by, args.note, datetime.now(UTC), args.reason)
        print(f"{alert.id} acknowledged by {args.by}")
        return 0
    finally:
        manager.close()


def run_simulate(args: argparse.Namespace) -> int:
    from simulator.run import SimulateOptions, plan_simulation, run_simulation  # lazy: start-up

    config = load_config(Path(args.config))
    plants = select_plants(config, args.plant)
    try:
        duration = parse_duration(args.duration)
        interval = parse_duration(args.interval) if args.interval else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if args.plants < 1:
        raise ConfigError("--plants must be at least 1")
    try:
        options = SimulateOptions(
            plant=args.plant, scenario=args.scenario,
            start=parse_iso(args.start, "--start") if args.start else None,
            duration=duration, interval=interval, speed=args.speed, backfill=args.backfill,
            seed=args.seed, plants=args.plants, truth=Path(args.truth) if args.truth else None,
            cluster=args.cluster,
        )
        # flags that cannot make a run (scenario too long, unknown cluster)
        plan_simulation(plants, options, clusters=config.layouts())
    except SimulatorError as exc:  # bad flags (unknown scenario, bad speed): usage, exit 2
        raise ConfigError(str(exc)) from exc
    summary = run_simulation(plants, config.mqtt, options,
                             progress=lambda line: print(line, file=sys.stderr),
                             stop=stop_event_on_signals(), clusters=config.layouts())
    print(json.dumps(dataclasses.asdict(summary), default=str))
    return 0


def run_collect(args: argparse.Namespace) -> int:
    from collector.service import Collector  # lazy: start-up
    from quantrac.reporting import scheduled_report  # lazy: start-up

    config = load_config(Path(args.config))
    configure_logging(config.service.log_level, config.service.log_json)
    collector = Collector(
        config.mqtt, config.influx, config.state, config.plants, config.checks, config.alerts,
        batch_size=config.service.batch_size,
        flush_interval=config.service.flush_interval_ms / 1000,
        partition=Partition(config.service.instance, config.service.instances),
        clusters=config.layouts(),
        http=(config.service.http_host, config.service.http_port)
        if config.service.http_port else None,
        on_period_closed=lambda plant, _period, start, end: scheduled_report(
            config, plant, start, end
        ),
    )
    stop = stop_event_on_signals()
    collector.run_forever(stop, on_ready=lambda: print(
        f"quantrac collector: {len(config.plants)} plant(s), broker {config.mqtt.host}:"
        f"{config.mqtt.port}, InfluxDB {config.influx.url}; ready", file=sys.stderr, flush=True))
    print(f"quantrac collector stopped: {json.dumps(collector.summary())}", file=sys.stderr)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from quantrac.demo import run  # lazy: start-up

    return run(hours=args.hours, scenario=args.scenario, out=Path(args.out), seed=args.seed,
               keep=args.keep)
