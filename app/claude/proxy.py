"""The credential proxy: the Claude CLI talks to Anthropic through it and never holds the secret.

A job's CLI gets a token that is good for that job alone, and a base URL that points here. The
proxy checks the token, swaps in the fleet's real credential, and streams the request to
Anthropic (or ``ANTHROPIC_BASE_URL``) and the answer back. So nothing the agent runs (Bash,
Read, a settings trick) can find the real API key or OAuth token in its environment, its files
or its process; a request without the job's token is refused like a bad key.

It serves one job, inside that job's process, on a Unix socket (the sandbox reaches it through
``sandbox_relay``) or on a loopback TCP port (no sandbox).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from app.claude.credentials import Credential, CredentialKind

log = logging.getLogger("app.proxy")

ANTHROPIC_URL = "https://api.anthropic.com"
#: request headers that belong to one hop, or that carry a credential (ours replaces them)
_DROP_REQUEST = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "x-api-key",
        "authorization",
        "content-length",
        "te",
        "trailer",
    }
)
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "trailer", "upgrade"})


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class CredentialProxy:
    """One job's proxy. ``secret`` returns the real secret at the moment of each request."""

    def __init__(
        self,
        credential: Credential,
        secret: Callable[[], str],
        upstream: str | None,
        *,
        socket_path: Path | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self.credential = credential
        self._secret = secret
        self.upstream = (upstream or ANTHROPIC_URL).rstrip("/")
        self.token = "cwjob-" + secrets.token_urlsafe(32)
        self.socket_path = socket_path
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10.0), follow_redirects=False)
        handler = _handler(self)
        self.server: socketserver.BaseServer
        if socket_path is not None:
            self.server = _UnixHTTPServer(str(socket_path), handler)
            os.chmod(socket_path, 0o600)
        else:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.server.daemon_threads = True
        # shutdown() waits for the serving loop's next poll: the default (0.5 s) would add that to every job
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="claude-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL for a CLI outside a sandbox (TCP mode)."""
        address = self.server.server_address
        assert isinstance(address, tuple), "the proxy listens on a Unix socket, not TCP"
        return f"http://{address[0]}:{address[1]}"

    def client_env(self, base_url: str | None = None) -> dict[str, str]:
        """What the CLI gets instead of the credential: a base URL and this job's token."""
        # the token in the variable of the real credential's kind: the CLI then behaves as it
        # would with the real one (an OAuth token makes it send the OAuth headers)
        return {"ANTHROPIC_BASE_URL": base_url or self.url, self.credential.env_var: self.token}

    def accepts(self, headers: dict[str, str]) -> bool:
        given = headers.get("x-api-key", "")
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and bearer:
            given = bearer
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def upstream_headers(self, headers: dict[str, str]) -> dict[str, str]:
        out = {k: v for k, v in headers.items() if k not in _DROP_REQUEST}
        secret = self._secret()
        if self.credential.kind is CredentialKind.API_KEY:
            out["x-api-key"] = secret
        else:
            out["authorization"] = f"Bearer {secret}"
        return out

    def __enter__(self) -> CredentialProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


def _refusal() -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    ).encode()


def _handler(proxy: CredentialProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("proxy: " + format, *args)

        def address_string(self) -> str:  # a Unix socket has no peer address
            return "job"

        def _relay(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if not proxy.accepts(headers):
                self._answer(401, {"content-type": "application/json"}, [_refusal()])
                return
            try:
                upstream = proxy.upstream_headers(headers)
            except Exception as exc:  # no usable credential right now: the CLI reports an auth error
                log.warning("proxy: no credential to send (%s)", exc)
                self._answer(401, {"content-type": "application/json"}, [_refusal()])
                return
            request = proxy.client.build_request(
                self.command, proxy.upstream + self.path, headers=upstream, content=body
            )
            try:
                answer = proxy.client.send(request, stream=True)
            except httpx.HTTPError as exc:
                message = {"type": "error", "error": {"type": "api_error", "message": f"proxy: {type(exc).__name__}"}}
                self._answer(502, {"content-type": "application/json"}, [json.dumps(message).encode()])
                return
            try:
                kept = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in _DROP_RESPONSE}
                self._answer(answer.status_code, kept, answer.iter_raw())
            finally:
                answer.close()

        def _answer(self, status: int, headers: dict[str, str], chunks: Any) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("connection", "close")  # the body ends when the connection does
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay  # noqa: N815 - http.server's names

    return Handler
