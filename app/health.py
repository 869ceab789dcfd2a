"""The health server every worker runs: ``/health``, ``/auth``, ``/live``, ``/ready``, ``/metrics``.

A plain threaded HTTP server in the worker's main process: it answers while a job runs (jobs
run in forked processes), reads only files and Redis, and never calls Claude.

* ``/health`` (always 200): the fleet state in the guide's words, for people and dashboards.
* ``/live`` (200 or 503): the worker can serve jobs: its loop is alive and Redis answers. A
  missing login or a usage limit never fails it, so no orchestrator restarts a worker for
  them. The compose healthcheck and a Kubernetes liveness probe use it.
* ``/ready`` (200 or 503): live, and the fleet can run Claude jobs now (logged in, gate open).
* ``/auth``: the credential in detail (its source, fingerprint and files) for loopback clients
  or those that send the API token; anyone else gets the state without the detail.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry
from redis import Redis

from app import __version__
from app.access import bearer_matches, names_this_machine
from app.auth_status import auth_status, fleet_snapshot, is_authenticated, state_word
from app.claude.credentials import inspect_credentials
from app.errors import ConfigError
from app.fleet.presence import WorkerInfo
from app.fleet.state import ACTIONS, SEED_LABELS
from app.metrics import FleetCollector
from app.settings import Settings
from app.states import State

log = logging.getLogger("app.health")

DEFAULT_PORTS = range(8080, 8090)
#: host names a browser uses for this machine; any other Host is refused the credential detail
ENDPOINTS = ("/health", "/live", "/ready", "/auth", "/metrics")
#: the credential detail that only trusted clients see
PRIVATE_AUTH_FIELDS = ("config_dir", "files", "ignored", "problems", "credential", "shared")


class HealthServer:
    def __init__(self, settings: Settings, info: WorkerInfo, conn: Redis) -> None:
        self.settings = settings
        self.info = info
        self.conn = conn
        self.registry = CollectorRegistry()
        self.registry.register(FleetCollector(settings, conn, info))
        self.httpd: ThreadingHTTPServer | None = None

    # -- the answers ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        report = inspect_credentials(self.settings)
        snap = fleet_snapshot(self.conn, self.settings)
        gate = snap.gate if snap else None
        authenticated = is_authenticated(report, gate)
        state = (
            state_word(report, gate)
            if snap is not None
            else (State.AUTH_REQUIRED if not report.configured else "unknown")
        )
        return {
            "status": "ok" if state == State.READY and authenticated else "degraded",
            "authenticated": authenticated,
            "state": state,
            "label": SEED_LABELS.get(state, state),
            "action": ACTIONS.get(state, "Check Redis (REDIS_URL) and the worker log."),
            "live": self._liveness(redis_ok=snap is not None)["live"],  # the snapshot was the Redis check
            "worker": self.info.name,
            "health_slot": self.info.slot,
            "current_job": self.info.current_job,
            "queue_depth": snap.queued if snap else None,
            "runnable_depth": snap.runnable if snap else None,
            "next_probe_at": gate.until if gate and not gate.is_open else None,
            "redis": "reachable" if snap is not None else "unreachable",
            "version": __version__,
            "uptime_s": round(time.time() - self.info.started_at, 1),
        }

    def live(self) -> tuple[bool, dict[str, Any]]:
        """Whether this worker can serve jobs: its loop beat recently and Redis answers."""
        try:
            redis_ok = bool(self.conn.ping())
        except Exception:  # any failure to answer is "unreachable"
            redis_ok = False
        detail = self._liveness(redis_ok)
        return detail["live"], detail

    def _liveness(self, redis_ok: bool) -> dict[str, Any]:
        silent = time.time() - self.info.last_beat
        limit = 2 * self.settings.claude_worker_ttl + 30
        problems = []
        if silent > limit:
            problems.append(f"the worker loop has not run for {silent:.0f}s (limit {limit}s)")
        if not redis_ok:
            problems.append("Redis does not answer (check REDIS_URL and the redis service)")
        live = not problems
        return {"live": live, "worker": self.info.name, "loop_silent_s": round(silent, 1), "problems": problems}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Live, and able to run Claude jobs now: a credential, and the fleet gate open."""
        health = self.health()
        detail = self._liveness(redis_ok=health["redis"] == "reachable")
        ready = detail["live"] and health["state"] == State.READY and health["authenticated"]
        return ready, {**detail, "ready": ready, "state": health["state"], "action": health["action"]}

    def auth(self, trusted: bool = True) -> dict[str, Any]:
        status = auth_status(self.settings, self.conn)
        status["worker"] = self.info.name
        if not trusted:
            credential = status.get("credential") or {}
            for name in PRIVATE_AUTH_FIELDS:
                status.pop(name, None)
            status["method"] = credential.get("method")
            status["detail"] = (
                "Credential detail is shown to loopback clients and to clients that send "
                "Authorization: Bearer <CLAUDE_WORKERS_API_TOKEN>; or run: python -m app.claude_auth_manager status"
            )
        return status

    def is_trusted(self, client_ip: str, host_header: str | None, authorization: str | None) -> bool:
        """Loopback clients that name this machine, or anyone with the API token."""
        token = self.settings.claude_workers_api_token
        if token is not None and bearer_matches(authorization, token.get_secret_value()):
            return True
        try:
            loopback = ipaddress.ip_address(client_ip.removeprefix("::ffff:")).is_loopback
        except ValueError:
            loopback = False
        return loopback and names_this_machine(host_header)

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
    # on Linux SO_REUSEADDR never lets two listeners share a port (that is SO_REUSEPORT); it
    # only lets a restarted worker bind at once while old connections sit in TIME_WAIT
    allow_reuse_address = True


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
                elif path == "/live":
                    live, detail = server.live()
                    self._json(200 if live else 503, detail)
                elif path == "/ready":
                    ready, detail = server.ready()
                    self._json(200 if ready else 503, detail)
                elif path == "/auth":
                    trusted = server.is_trusted(
                        self.client_address[0], self.headers.get("host"), self.headers.get("authorization")
                    )
                    self._json(200, server.auth(trusted))
                elif path == "/metrics":
                    self._send(200, server.metrics(), CONTENT_TYPE_LATEST)
                else:
                    self._json(404, {"error": "not found", "endpoints": list(ENDPOINTS)})
            except Exception:
                log.exception("health endpoint %s failed", path)
                self._json(500, {"status": "error", "error": "internal error; see the worker log"})

    return Handler
