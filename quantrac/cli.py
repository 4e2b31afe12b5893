"""`quantrac <command>`: argument parsing, exit codes and error lines (SPEC "Command line").

Exit 0 on success, 2 on bad usage or config, 1 on runtime failure; one line on stderr, a
traceback only with `--debug`.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from alerts.alert import ACK_REASONS
from alerts.errors import AlertsError
from collector.errors import CollectorError
from console.errors import AccountError, ConsoleError
from quantrac import commands
from quantrac.config import ConfigError
from quantrac.offline import CsvError
from quantrac.stack import StackError
from reports.errors import ReportsError
from rules.errors import RulesError
from rules.vocabulary import LANGS
from simulator.errors import SimulatorError

RUNTIME_ERRORS = (
    CollectorError, AlertsError, ReportsError, SimulatorError, StackError, ConsoleError, OSError,
)
USAGE_ERRORS = (ConfigError, CsvError, RulesError, AccountError)


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


class _SubParser(_Parser):
    """A (sub)command parser that also takes `--debug` after the command name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show tracebacks and debug logs")


def _finite_float(text: str) -> float:
    """A float flag that must be a finite number (nan/inf would make invalid JSON)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="quantrac", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_SubParser)

    p = sub.add_parser("demo", help="the main job on the embedded default stack")
    p.add_argument("--hours", type=_finite_float, default=6.0, help="simulated hours (default 6)")
    p.add_argument("--scenario", default="cod-spike", help="simulator scenario(s), comma-separated")
    p.add_argument("--out", default="out", help="report folder (default ./out)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="after the simulated hours keep "
                   "simulator (in real time), collector and console running until Ctrl-C")

    p = sub.add_parser("collect", help="the long-running service: MQTT → InfluxDB, checks, alerts")
    p.add_argument("--config", required=True)

    p = sub.add_parser("simulate", help="publish synthetic readings")
    p.add_argument("--config", required=True)
    p.add_argument("--plant")
    p.add_argument("--cluster", help="simulate a whole cluster: its central plant and metered "
                   "factories, linked by the network")
    p.add_argument("--scenario", default="normal")
    p.add_argument("--start", help="ISO time of the first record (default: now)")
    p.add_argument("--duration", default="6h")
    p.add_argument("--interval", help="reading interval (default: the plant's)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--speed", type=_finite_float, help="accelerate simulated time X times")
    mode.add_argument("--backfill", action="store_true", help="publish as fast as possible")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--plants", type=int, default=1)
    p.add_argument("--truth", help="write the injected episodes as JSON here")

    p = sub.add_parser("limits", help="effective limits after coefficients")
    p.add_argument("--regulation", required=True)
    p.add_argument("--column", required=True, choices=["A", "B"])
    p.add_argument("--kq", type=_finite_float)
    p.add_argument("--flow", type=_finite_float, help="discharge flow in m³/day (→ Kf)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("check", help="evaluate stored or offline data")
    p.add_argument("--config", required=True)
    p.add_argument("--from", dest="start")
    p.add_argument("--to", dest="end")
    p.add_argument("--csv")
    p.add_argument("--plant")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("report", help="compliance report of a plant, a cluster or the province")
    p.add_argument("--config", required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--plant", help="a plant's (or factory's) compliance report")
    which.add_argument("--cluster", help="a cluster's report: central plant, member factories, "
                       "collection and treatment ledger (with --month)")
    which.add_argument("--province", action="store_true",
                       help="the province roll-up of every cluster (with --month)")
    p.add_argument("--month")
    p.add_argument("--from", dest="start")
    p.add_argument("--to", dest="end")
    p.add_argument("--csv")
    p.add_argument("--format", help="comma-separated html,pdf,csv (default: [reports] formats)")
    p.add_argument("--lang", choices=LANGS, help="default: [reports] lang")
    p.add_argument("--out", required=True)

    p = sub.add_parser("export", help="regulator data files")
    p.add_argument("--config", required=True)
    p.add_argument("--plant", required=True)
    p.add_argument("--from", dest="start", required=True)
    p.add_argument("--to", dest="end", required=True)
    p.add_argument("--format", required=True, choices=["circular10"])
    p.add_argument("--out", required=True)
    p.add_argument("--csv", help="read data from this CSV instead of InfluxDB")

    p = sub.add_parser(
        "alerts", help="the alert book (state dir from --config or QUANTRAC_STATE_DIR)"
    )
    asub = p.add_subparsers(dest="alerts_command", required=True, parser_class=_SubParser)
    a = asub.add_parser("list", help="list alerts")
    a.add_argument("--open", action="store_true", help="only open alerts")
    a.add_argument("--config")
    a.add_argument("--json", action="store_true")
    a = asub.add_parser("ack", help="acknowledge an alert")
    a.add_argument("id")
    a.add_argument("--by", required=True)
    a.add_argument("--note")
    a.add_argument("--reason", choices=ACK_REASONS,
                   help="why (reason code, shown in the history and reports; other needs --note)")
    a.add_argument("--config")

    p = sub.add_parser("web", help="the console (web application)")
    p.add_argument("--config", required=True)
    p.add_argument("--listen", help="HOST:PORT (default: QUANTRAC_WEB_LISTEN, [web] listen, "
                   "127.0.0.1:8080)")

    p = sub.add_parser(
        "users", help="console accounts (state dir from --config or QUANTRAC_STATE_DIR)"
    )
    usub = p.add_subparsers(dest="users_command", required=True, parser_class=_SubParser)
    u = usub.add_parser("add", help="add an account (password from stdin, or generated)")
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=["admin", "regulator", "operator"])
    u.add_argument("--plants", help="comma-separated plant ids (operators)")
    u.add_argument("--clusters", help="comma-separated cluster ids (operators, regulators)")
    u.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    u.add_argument("--config")
    u = usub.add_parser("list", help="list accounts")
    u.add_argument("--json", action="store_true")
    u.add_argument("--config")
    u = usub.add_parser("disable", help="disable an account (ends its sessions and tokens)")
    u.add_argument("name")
    u.add_argument("--config")
    u = usub.add_parser("token", help="print a new API bearer token for an account")
    u.add_argument("name")
    u.add_argument("--config")

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=_SubParser)
    c = csub.add_parser("check", help="validate a config file")
    c.add_argument("file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        logging.basicConfig(
            level=logging.DEBUG if args.debug else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return commands.dispatch(args)
    except BrokenPipeError:
        # `quantrac ... | head`: the reader left; not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UsageError as exc:
        return _fail(str(exc), 2, debug)
    except USAGE_ERRORS as exc:
        return _fail(f"quantrac: {exc}", 2, debug)
    except RUNTIME_ERRORS as exc:
        return _fail(f"quantrac: {exc}", 1, debug)
    except KeyboardInterrupt:
        return _fail("quantrac: interrupted", 130, debug)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        return code
    except Exception as exc:
        return _fail(f"quantrac: unexpected error: {type(exc).__name__}: {exc}", 1, debug)


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(message.splitlines()[0] if message else "quantrac: error", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
