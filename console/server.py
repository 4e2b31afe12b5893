"""Serving the console with uvicorn (the one module that knows the ASGI server): in the
foreground for `quantrac web` (SIGINT/SIGTERM stop it), or on a thread for tests and the demo.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence

import uvicorn
from starlette.types import ASGIApp

from console.errors import ConsoleError

# Open event streams end within this after a stop (they also end by themselves each minute).
GRACEFUL_SECONDS = 2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket bound before the server starts: a taken or forbidden address is a
    clear ConsoleError, and port 0 gives a free port known at once."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConsoleError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConsoleError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _config(app: ASGIApp, host: str, port: int, trusted_proxies: Sequence[str]
            ) -> uvicorn.Config:
    return uvicorn.Config(
        # Our logging setup; uvicorn's own start/stop lines only when something is wrong.
        app, host=host, port=port, log_config=None, log_level="warning", access_log=False,
        proxy_headers=True, forwarded_allow_ips=list(trusted_proxies),
        server_header=False, timeout_graceful_shutdown=GRACEFUL_SECONDS,
        # One event loop answers everyone: ~50 open pages are ~50 idle streams, not threads.
        limit_concurrency=1000, backlog=512,
    )


def serve(app: ASGIApp, host: str, port: int, trusted_proxies: Sequence[str] = (),
          on_ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; ConsoleError when the address cannot be used."""
    sock = _bind(host, port)
    server = uvicorn.Server(_config(app, host, port, trusted_proxies))
    if on_ready is not None:
        threading.Thread(target=_when_started, args=(server, on_ready), daemon=True).start()
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again under the
    # handlers it found: with these (no-op) ones that ends nothing, and a requested stop
    # exits 0 like `quantrac collect` instead of dying by the signal.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in _STOP_SIGNALS}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _when_started(server: uvicorn.Server, then: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.02)
    if server.started:
        then()


class BackgroundServer:
    """The console on a daemon thread (tests, `quantrac demo`): `start()`, `url`, `stop()`."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0,
                 trusted_proxies: Sequence[str] = ()) -> None:
        self._sock = _bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(app, self.host, self.port, trusted_proxies))
        self._thread = threading.Thread(target=self._run, name="console", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConsoleError(f"the console did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_SECONDS + 10)
        self._sock.close()

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
