"""A private Mosquitto + InfluxDB 1.x on loopback, for `demo` and the test session.

Each server gets a free port, a temporary data dir and a generated config file. Children are
tied to this process: they receive SIGTERM if it dies (PR_SET_PDEATHSIG), and `stop()` runs on
normal exit, on exceptions and on SIGTERM/SIGINT through the context manager, so no orphan
server outlives its caller. The parent-death signal follows the *thread* that started a server:
start (and restart) servers from the main thread, or they stop when that thread ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

_PR_SET_PDEATHSIG = 1
MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
INFLUXD_CANDIDATES = ("influxd", "/usr/bin/influxd", "/usr/local/bin/influxd")
# Deliberate broker settings (see README "Broker settings"): nodelay for QoS 1 latency, a large
# but bounded queue for offline persistent sessions, and no per-client inflight cap of 20.
MAX_QUEUED_MESSAGES = 1_000_000
MAX_INFLIGHT_MESSAGES = 1000


class StackError(Exception):
    """The local servers could not be started."""


def find_binary(candidates: tuple[str, ...]) -> str:
    """The first candidate that exists on PATH or as an absolute path."""
    for name in candidates:
        if os.path.isabs(name) and os.access(name, os.X_OK):
            return name
        path = shutil.which(name)
        if path:
            return path
    raise StackError(
        f"{candidates[0]} not found; run `make setup` (installs the Debian packages "
        "mosquitto and influxdb)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the parent process dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # our own group: a Ctrl-C in the terminal is handled by the parent, not us


def mosquitto_config(port: int, data_dir: Path) -> str:
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            # Run as ourselves: a privilege drop would clear the parent-death signal.
            f"user {getpass.getuser()}",
            "set_tcp_nodelay true",
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            "max_queued_bytes 0",
            f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
            "persistence true",
            f"persistence_location {data_dir}/",
            "autosave_interval 60",
            f"log_dest file {data_dir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "",
        ]
    )


def influxd_config(http_port: int, rpc_port: int, data_dir: Path) -> str:
    return f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{data_dir}/meta"

[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-row-limit = 0

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
"""


def mqtt_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when an MQTT 3.1.1 CONNECT gets a successful CONNACK (no client library needed)."""
    client_id = b"quantrac-ping"
    variable = b"\x00\x04MQTT\x04\x02\x00\x05"
    payload = len(client_id).to_bytes(2, "big") + client_id
    packet = b"\x10" + bytes([len(variable) + len(payload)]) + variable + payload
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(packet)
            reply = sock.recv(4)
            sock.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return False
    return len(reply) == 4 and reply[0] == 0x20 and reply[3] == 0


def influx_ping(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=timeout).status_code == 204
    except requests.RequestException:
        return False


@dataclass
class ServerProcess:
    """One child server: its process, log file and how to tell it is ready."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM) without waiting for it."""
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def log_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class LocalStack:
    """Private servers on loopback; use as a context manager (`with LocalStack() as stack:`)."""

    root: Path | None = None
    startup_timeout: float = 30.0
    mqtt_port: int = 0
    influx_port: int = 0
    servers: dict[str, ServerProcess] = field(default_factory=dict)
    _own_root: bool = False

    mqtt_host = "127.0.0.1"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{self.mqtt_host}:{self.mqtt_port}"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers.values()]

    def start(self) -> LocalStack:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="quantrac-stack-"))
            self._own_root = True
        try:
            self.start_mosquitto()
            self.start_influxd()
        except BaseException:
            self.stop()
            raise
        return self

    def start_mosquitto(self) -> None:
        """(Re)start the broker on the same port and data dir (persistence survives)."""
        assert self.root is not None  # set by start()
        data = self.root / "mosquitto"
        data.mkdir(parents=True, exist_ok=True)
        self.mqtt_port = self.mqtt_port or free_port()
        conf = data / "mosquitto.conf"
        conf.write_text(mosquitto_config(self.mqtt_port, data))
        argv = [find_binary(MOSQUITTO_CANDIDATES), "-c", str(conf)]
        server = self._spawn("mosquitto", argv, data)
        self._wait(server, lambda: mqtt_ping(self.mqtt_host, self.mqtt_port))

    def start_influxd(self) -> None:
        """(Re)start InfluxDB on the same port and data dir."""
        assert self.root is not None  # set by start()
        data = self.root / "influxdb"
        data.mkdir(parents=True, exist_ok=True)
        self.influx_port = self.influx_port or free_port()
        conf = data / "influxdb.conf"
        conf.write_text(influxd_config(self.influx_port, free_port(), data))
        binary = find_binary(INFLUXD_CANDIDATES)
        server = self._spawn("influxd", [binary, "-config", str(conf)], data)
        self._wait(server, lambda: influx_ping(self.influx_url))

    def stop_server(self, name: str) -> None:
        """Stop one server (fault tests restart it with `start_mosquitto`/`start_influxd`)."""
        server = self.servers.pop(name, None)
        if server:
            server.stop()

    def kill_server(self, name: str) -> None:
        """SIGKILL one server, as a crash would."""
        server = self.servers.pop(name, None)
        if server and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)

    def _spawn(self, name: str, argv: list[str], data: Path) -> ServerProcess:
        log_path = data / f"{name}.out"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        server = ServerProcess(name, process, log_path)
        self.servers[name] = server
        return server

    def _wait(self, server: ServerProcess, ready: object) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise StackError(
                    f"{server.name} exited with {server.process.returncode}: {server.log_tail()}"
                )
            if callable(ready) and ready():
                return
            time.sleep(0.05)
        raise StackError(f"{server.name} did not answer within {self.startup_timeout:.0f}s")

    def create_database(self, name: str) -> None:
        response = requests.post(
            f"{self.influx_url}/query", params={"q": f'CREATE DATABASE "{name}"'}, timeout=10
        )
        if response.status_code != 200 or "error" in response.text:
            raise StackError(f"could not create database {name}: {response.text[:200]}")

    def stop(self) -> None:
        # Every server is asked to stop first, then waited for: the shutdowns overlap, so a
        # slow one (influxd on a loaded machine) does not add its wait to the next one's.
        servers = [self.servers.pop(name) for name in list(self.servers)]
        for server in servers:
            server.terminate()
        for server in servers:
            server.stop()
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so `with` blocks (and the stack) unwind cleanly."""

    def _raise(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
