"""The health server every worker runs: ``/health``, ``/auth`` and ``/metrics``.

A plain threaded HTTP server in the worker's main process: it answers while a job runs (jobs
run in forked processes), reads only files and Redis, and never calls Claude.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry
from redis import Redis

from app import __version__
from app.auth_status import auth_status, fleet_snapshot, is_authenticated
from app.claude.credentials import inspect_credentials
from app.errors import ConfigError
from app.metrics import FleetCollector
from app.settings import Settings

log = logging.getLogger("app.health")

DEFAULT_PORTS = range(8080, 8090)


@dataclass
class WorkerInfo:
    """What the worker process tells its health server; updated as jobs start and end."""

    name: str = "starting"
    started_at: float = field(default_factory=time.time)
    current_job: str | None = None


class HealthServer:
    def __init__(self, settings: Settings, info: WorkerInfo, conn: Redis) -> None:
        self.settings = settings
        self.info = info
        self.conn = conn
        self.registry = CollectorRegistry()
        self.registry.register(FleetCollector(settings, conn))
        self.httpd: ThreadingHTTPServer | None = None

    # -- the three answers ---------------------------------------------------------
    def health(self) -> dict[str, Any]:
        report = inspect_credentials(self.settings)
        snap = fleet_snapshot(self.conn, self.settings)
        gate = snap.gate if snap else None
        authenticated = is_authenticated(report, gate)
        return {
            "status": "ok" if snap is not None and authenticated and gate is not None and gate.is_open else "degraded",
            "authenticated": authenticated,
            "state": gate.state if gate else ("auth_required" if not report.configured else "unknown"),
            "label": gate.label if gate else None,
            "worker": self.info.name,
            "current_job": self.info.current_job,
            "queue_depth": snap.queued if snap else None,
            "runnable_depth": snap.runnable if snap else None,
            "next_probe_at": gate.until if gate and not gate.is_open else None,
            "redis": "reachable" if snap is not None else "unreachable",
            "version": __version__,
            "uptime_s": round(time.time() - self.info.started_at, 1),
        }

    def auth(self) -> dict[str, Any]:
        status = auth_status(self.settings, self.conn)
        status["worker"] = self.info.name
        return status

    def metrics(self) -> bytes:
        return generate_latest(self.registry)

    # -- serving -----------------------------------------------------------------------
    def bind(self, host: str, port: int | None) -> int:
        """Bind ``port``, or the first free one of 8080-8089. Returns the port."""
        handler = _handler(self)
        candidates = [port] if port is not None else list(DEFAULT_PORTS)
        for candidate in candidates:
            try:
                self.httpd = _Server((host, candidate), handler)
                return candidate
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise ConfigError(f"Cannot serve health on {host}:{candidate}: {exc.strerror}.") from None
        if port is not None:
            raise ConfigError(
                f"HEALTH_PORT={port} is already in use.",
                hint="Set HEALTH_PORT to a free port, or unset it to take the first free one of 8080-8089.",
            )
        raise ConfigError(
            "All health ports 8080-8089 are in use (one per worker on this host).",
            hint="Set HEALTH_PORT to a free port for this worker, e.g. HEALTH_PORT=8090.",
        )

    def serve_in_background(self) -> None:
        assert self.httpd is not None
        threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True).start()

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # two workers must never share a port

    def server_bind(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        super().server_bind()


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes; with Nagle, keep-alive clients wait ~40 ms for the body
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload, default=str).encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            try:
                if path == "/health":
                    self._json(200, server.health())
                elif path == "/auth":
                    self._json(200, server.auth())
                elif path == "/metrics":
                    self._send(200, server.metrics(), CONTENT_TYPE_LATEST)
                else:
                    self._json(404, {"error": "not found", "endpoints": ["/health", "/auth", "/metrics"]})
            except Exception:
                log.exception("health endpoint %s failed", path)
                self._json(500, {"status": "error", "error": "internal error; see the worker log"})

    return Handler
