"""`/healthz` and `/metrics` over HTTP (stdlib server on its own thread)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from collector.errors import CollectorError


class HealthServer:
    """Serves `health()` as JSON on /healthz (200 ready, 503 not) and `metrics()` on /metrics."""

    def __init__(
        self, host: str, port: int,
        health: Callable[[], tuple[bool, dict[str, Any]]],
        metrics: Callable[[], str],
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    ready, detail = health()
                    self._send(200 if ready else 503, "application/json",
                               json.dumps(detail).encode())
                elif self.path.split("?")[0] == "/metrics":
                    self._send(200, "text/plain; version=0.0.4", metrics().encode())
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # probes every few seconds would flood the log

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise CollectorError(f"cannot serve /healthz on {host}:{port}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
