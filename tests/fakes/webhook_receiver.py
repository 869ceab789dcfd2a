"""A webhook receiver on 127.0.0.1 for the tests: records every call, answers as scripted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.answers: list[int] = []  # the next calls' status codes; 200 once it runs out
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def take(self, call: Call) -> int:
        with self._lock:
            self.calls.append(call)
            return self.answers.pop(0) if self.answers else 200

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status = receiver.take(Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    return Handler


def tries(view: dict[str, Any]) -> Iterator[tuple[int, int | None, bool]]:
    """(try, status_code, accepted) of each webhook try recorded on a job view."""
    for entry in view.get("webhooks") or []:
        yield entry["try"], entry["status_code"], entry["accepted"]
