"""`quantrac web` and `quantrac users`: the console's commands, and the wiring of its real data
sources (the alert book, the check book the collector keeps, the readings store, the report
and export writers).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from quantrac.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from alerts.manager import AlertManager
    from collector.checkbook import CheckBook
    from collector.store import Store
    from console.accounts import Accounts, User


class ConsoleBackend:
    """The real objects behind the console (one process): the alert manager over the alert
    book (the same class as `quantrac alerts ack` and the collector's MQTT acks), the check
    book the collector's scheduled checks keep, and the readings store. `close()` ends them."""

    def __init__(self, config: Config) -> None:
        from alerts.manager import AlertManager
        from collector.checkbook import CheckBook
        from collector.store import open_store

        self.alerts: AlertManager = AlertManager(config.alerts, list(config.plants),
                                                 config.state.dir)
        self.book: CheckBook = CheckBook(config.state.dir)
        self.store: Store = open_store(config.influx)

    def close(self) -> None:
        self.alerts.close()
        self.book.close()
        self.store.close()


def build_console(
    config: Config, clock: Callable[[], datetime] | None = None
) -> tuple[Starlette, ConsoleBackend]:
    """The console app over this config's plants, clusters and state directory, and the
    objects behind it (the caller closes them); `clock`: the demo's simulated time."""
    from console.app import create_app, utc_now
    from console.sources import Sources
    from quantrac.downloads import ReportDownloads

    backend = ConsoleBackend(config)
    sources = Sources(alerts=backend.alerts, results=backend.book, readings=backend.store,
                      documents=ReportDownloads(config), clusters=backend.book)
    app = create_app(config.web, config.plants, sources, config.state.dir,
                     clock=clock or utc_now, checks=config.checks,
                     layouts=config.layouts())
    return app, backend


def run_web(args: argparse.Namespace) -> int:
    from console.accounts import Accounts
    from console.database import Database
    from console.server import serve
    from console.settings import parse_listen
    from quantrac.logformat import configure_logging

    config = load_config(Path(args.config))
    try:
        host, port = parse_listen(args.listen or config.web.listen)
    except ValueError as exc:
        raise ConfigError(f"--listen: {exc}") from exc
    configure_logging(config.service.log_level, config.service.log_json)
    app, backend = build_console(config)
    if not Accounts(Database(config.state.dir)).users():
        print("quantrac console: no accounts yet; add one with "
              "`quantrac users add NAME --role admin --config FILE`", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    try:
        serve(app, host, port, config.web.trusted_proxies, on_ready=lambda: print(
            f"quantrac console: http://{shown}:{port}/ ({len(config.plants)} plant(s), state "
            f"{config.state.dir}); ready", file=sys.stderr, flush=True))
    finally:
        backend.close()
    return 0


def run_users(args: argparse.Namespace) -> int:
    from console.accounts import Accounts, check_account, new_password
    from console.audit import AuditEntry, AuditLog
    from console.database import Database

    config = load_config(Path(args.config)) if args.config else None
    state_dir = config.state.dir if config else Path(
        os.environ.get("QUANTRAC_STATE_DIR", ".quantrac"))
    db = Database(state_dir)
    accounts, audit = Accounts(db), AuditLog(db)
    now = datetime.now(UTC)
    actor = f"cli:{getpass.getuser()}"

    if args.users_command == "list":
        users = accounts.users()
        if args.json:
            print(json.dumps([{"name": u.name, "role": u.role, "plants": list(u.plants),
                               "clusters": list(u.clusters), "disabled": u.disabled,
                               "tokens": accounts.token_count(u.name)} for u in users],
                             ensure_ascii=False, indent=2))
        else:
            print(_user_table(users, accounts))
        return 0
    if args.users_command == "add":
        plants, clusters = _ids(args.plants), _ids(args.clusters)
        if (plants or clusters) and config is None:
            raise ConfigError("--plants/--clusters: give --config FILE to check the ids")
        known_plants = [p.id for p in config.plants] if config else []
        known_clusters = list(dict.fromkeys(p.cluster for p in config.plants)) if config else []
        check_account(args.name, args.role, plants, clusters, known_plants, known_clusters)
        generated = not args.password_stdin
        password = new_password() if generated else sys.stdin.readline().rstrip("\r\n")
        user = accounts.add(args.name, args.role, password, now, plants, clusters)
        audit.record(AuditEntry(now, "user_added", actor, user.name,
                                detail=f"{user.role}; {user.scope_text()}"))
        print(f"user {user.name} added ({user.role}; {user.scope_text()})")
        if generated:
            print(f"password (shown once): {password}")
        return 0
    if args.users_command == "disable":
        user = accounts.disable(args.name, now)
        audit.record(AuditEntry(now, "user_disabled", actor, user.name))
        print(f"user {user.name} disabled; its sessions and API tokens no longer work")
        return 0
    token = accounts.issue_token(args.name, now)
    audit.record(AuditEntry(now, "token_issued", actor, args.name))
    print(token)
    return 0


def _ids(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _user_table(users: list[User], accounts: Accounts) -> str:
    if not users:
        return "no users (add one: quantrac users add NAME --role admin)"
    rows = [("NAME", "ROLE", "SCOPE", "STATUS", "TOKENS")]
    rows += [(u.name, u.role, u.scope_text(), "disabled" if u.disabled else "active",
              str(accounts.token_count(u.name))) for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
                     for row in rows)
