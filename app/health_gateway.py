"""The health gateway: port 8080+N answers with the health of the worker in slot N.

Docker publishes a scaled service's ports in whatever order it likes (after a recreate the
only worker may sit on 8089), so the compose file publishes no worker port. This one small
server holds the guide's ports instead and forwards each request to the worker that holds
the matching health slot (see ``app.fleet.presence``): ``curl localhost:8080/health`` is the
first worker, 8081 the second, and a worker that restarts keeps its number.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from redis import Redis

from app.fleet.keys import HEALTH_SLOTS, Keys
from app.fleet.presence import GATEWAY_PORT, slot_url

log = logging.getLogger("app.health_gateway")

FORWARD_TIMEOUT_S = 5.0
#: request headers a worker's answer depends on (the token unlocks /auth detail)
FORWARDED_HEADERS = ("authorization", "accept")
PATHS = ("/health", "/live", "/ready", "/auth", "/metrics")


class HealthGateway:
    def __init__(self, conn: Redis, keys: Keys, host: str = "0.0.0.0", base_port: int = GATEWAY_PORT) -> None:
        self.conn = conn
        self.keys = keys
        self.host = host
        self.base_port = base_port
        self.servers: list[ThreadingHTTPServer] = []

    def forward(self, slot: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        """(status, body, content type) of ``path`` on the worker in ``slot``."""
        try:
            url = slot_url(self.conn, self.keys, slot)
        except redis.RedisError:
            return _problem(503, "Redis does not answer, so the gateway cannot tell which worker is here.")
        if url is None:
            return _problem(
                503,
                f"No worker holds health slot {slot} (port {self.base_port + slot}).",
                hint=f"Start more workers: docker compose up -d --scale worker={slot + 1}",
            )
        request = urllib.request.Request(url + path, headers={k: v for k, v in headers.items() if v})
        try:
            with urllib.request.urlopen(request, timeout=FORWARD_TIMEOUT_S) as answer:
                return answer.status, answer.read(), answer.headers.get("content-type", "application/json")
        except urllib.error.HTTPError as answer:  # a 503 from /live or /ready is an answer, not a failure
            return answer.code, answer.read(), answer.headers.get("content-type", "application/json")
        except (urllib.error.URLError, OSError) as exc:
            return _problem(502, f"The worker in slot {slot} ({url}) did not answer: {exc}.")

    def serve(self) -> None:
        """Bind every slot's port, then serve until the process ends."""
        for slot in range(HEALTH_SLOTS):
            server = ThreadingHTTPServer((self.host, self.base_port + slot), _handler(self, slot))
            server.daemon_threads = True
            self.servers.append(server)
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in self.servers]
        for thread in threads:
            thread.start()
        log.info(
            "health gateway on %s:%d-%d: port %d+N is the worker in health slot N",
            self.host,
            self.base_port,
            self.base_port + HEALTH_SLOTS - 1,
            self.base_port,
        )
        for thread in threads:
            thread.join()


def _problem(status: int, error: str, hint: str | None = None) -> tuple[int, bytes, str]:
    payload: dict[str, Any] = {"status": "unavailable", "error": error}
    if hint:
        payload["hint"] = hint
    return status, json.dumps(payload).encode(), "application/json"


def _handler(gateway: HealthGateway, slot: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/gateway":
                status, body, kind = 200, json.dumps({"status": "ok", "slot": slot}).encode(), "application/json"
            elif path not in PATHS:
                status, body, kind = (
                    404,
                    json.dumps({"error": "not found", "endpoints": PATHS}).encode(),
                    "application/json",
                )
            else:
                headers = {name: self.headers.get(name, "") for name in FORWARDED_HEADERS}
                status, body, kind = gateway.forward(slot, path, headers)
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler
