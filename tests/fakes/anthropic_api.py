"""A fake Anthropic Messages API for tests and benchmarks.

It answers ``POST /v1/messages`` with the real shapes the Claude Code CLI and the
Anthropic SDK see (see ``shared/claude-cli-facts.md``): a streamed (SSE) or plain
success, 401, 403, the subscription usage limit (429 with the
``anthropic-ratelimit-unified-*`` headers), a plain 429 rate limit with
``retry-after``, 529, 500, 400 "credit balance too low", 400 invalid request, a
tool-use turn, and a hang. Every request is recorded.

In-process use::

    with FakeAnthropicAPI() as fake:
        fake.always(Reply.usage_limit(resets_at=time.time() + 15))
        ...  # point ANTHROPIC_BASE_URL at fake.url

Out of process (benchmarks, demos)::

    python -m tests.fakes.anthropic_api --port 8765
    curl -X POST localhost:8765/_fake/reply -d '{"kind": "usage_limit", "resets_in": 15}'
    curl -X POST localhost:8765/_fake/oauth -d '{"expires_in": 30, "strict": true}'   # a claude.ai login
    curl localhost:8765/_fake/oauth                                                  # refreshes so far
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "claude-opus-5-5"
HANG_LIMIT_S = 600.0


@dataclass
class Reply:
    """What the fake answers to one ``POST /v1/messages``."""

    kind: str = "success"
    text: str = "OK"
    resets_at: int | None = None
    claim: str = "five_hour"
    retry_after: int | None = None
    message: str | None = None
    delay: float = 0.0
    input_tokens: int = 11
    output_tokens: int = 3
    lift_at_reset: bool = False  # usage_limit: answer success once resets_at has passed
    accept: str | None = None  # error kinds: answer success to a request carrying this credential
    #: kind "script": the tool calls to make, one per turn, before answering ``text``
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: kind "script": from this turn on, answer a usage limit until ``resets_at`` (a wall mid-run);
    #: with ``wall_for`` instead, the wall lasts that many seconds from the first request that meets it
    wall_at: int | None = None
    wall_for: float | None = None

    def effective(self, headers: dict[str, str]) -> Reply:
        """The reply after the time- and credential-dependent rules above."""
        if self.lift_at_reset and self.resets_at is not None and time.time() >= self.resets_at:
            return Reply.success(self.text)
        if self.accept is not None:
            sent = headers.get("x-api-key", "") + " " + headers.get("authorization", "")
            if self.accept in sent:
                return Reply.success(self.text)
        return self

    @classmethod
    def success(cls, text: str = "OK", delay: float = 0.0) -> Reply:
        return cls("success", text=text, delay=delay)

    @classmethod
    def usage_limit(cls, resets_at: float, claim: str = "five_hour", lift_at_reset: bool = False) -> Reply:
        return cls("usage_limit", resets_at=int(resets_at), claim=claim, lift_at_reset=lift_at_reset)

    @classmethod
    def rate_limit(cls, retry_after: int = 7) -> Reply:
        return cls("rate_limit", retry_after=retry_after)

    @classmethod
    def script(cls, *calls: tuple[str, dict[str, Any]], text: str = "done", **more: Any) -> Reply:
        """A tool-using agent: each turn asks for the next tool call, then it answers ``text``
        (``wall_at=N`` and ``resets_at=T`` or ``wall_for=S``: from turn N+1 on, a usage limit until T, or
        for S seconds from the first request that meets it)."""
        return cls("script", text=text, calls=[{"name": name, "input": args} for name, args in calls], **more)

    @classmethod
    def of(cls, kind: str, **kw: Any) -> Reply:
        return cls(kind, **kw)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any] | None
    at: float = field(default_factory=time.time)

    def user_text(self) -> str:
        """All text the request carries in its messages, joined (to find the prompt)."""
        parts: list[str] = []
        for message in (self.body or {}).get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(b.get("text", "")) for b in content if isinstance(b, dict))
        return "\n".join(parts)


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": f"req_fake_{uuid.uuid4().hex[:12]}",
    }


# status, error type, default message, extra headers
_ERRORS: dict[str, tuple[int, str, str, dict[str, str]]] = {
    "auth": (401, "authentication_error", "invalid x-api-key", {}),
    "oauth_expired": (
        401,
        "authentication_error",
        "OAuth token has expired. Please obtain a new token or refresh your existing token.",
        {},
    ),
    "forbidden": (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
        {},
    ),
    "overloaded": (529, "overloaded_error", "Overloaded", {}),
    "server_error": (500, "api_error", "Internal server error", {}),
    "credit_low": (
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits.",
        {},
    ),
    "invalid_request": (400, "invalid_request_error", "messages.0.content: field required (fake)", {}),
}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients the tests kill on purpose (a SIGKILLed CLI) hang up mid-answer: not an error
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class OAuthIssuer:
    """The OAuth token endpoint (``POST /v1/oauth/token``), as the real one behaves for a refresh.

    Refresh tokens rotate: each works once, and a used one answers 400 ``invalid_grant``. Once
    ``strict`` is on, a Messages request with one of our access tokens is refused (401, "OAuth token
    has expired") after that token's expiry: a fleet that refreshes late, or twice, shows up.
    """

    expires_in: float = 3600.0
    strict: bool = False
    refreshes: int = 0
    invalid_grants: int = 0
    issued: int = 0
    access: dict[str, float] = field(default_factory=dict)  # access token -> expiry (epoch s)
    live_refresh: set[str] = field(default_factory=set)

    def issue(self) -> dict[str, Any]:
        """A new pair, as the token endpoint returns it."""
        self.issued += 1
        access = f"sk-ant-oat01-fake-access-{self.issued}-{uuid.uuid4().hex[:8]}"
        refresh = f"sk-ant-ort01-fake-refresh-{self.issued}-{uuid.uuid4().hex[:8]}"
        self.access[access] = time.time() + self.expires_in
        self.live_refresh.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": "user:inference user:profile",
        }

    def login_file(self) -> dict[str, Any]:
        """A ``.credentials.json`` as ``claude auth login`` writes it, with a fresh pair."""
        pair = self.issue()
        return {
            "claudeAiOauth": {
                "accessToken": pair["access_token"],
                "refreshToken": pair["refresh_token"],
                "expiresAt": int(self.access[pair["access_token"]] * 1000),
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
            }
        }

    def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        if refresh_token not in self.live_refresh:
            self.invalid_grants += 1
            return None
        self.live_refresh.discard(refresh_token)
        self.refreshes += 1
        return self.issue()

    def refuses(self, headers: dict[str, str]) -> bool:
        """Whether a Messages request carries one of our access tokens past its expiry."""
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not self.strict or not token.startswith("sk-ant-oat01-fake-access-"):
            return False
        return self.access.get(token, 0) < time.time()


class FakeAnthropicAPI:
    """A threaded HTTP server on 127.0.0.1 playing the Anthropic API."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._default = Reply.success()
        self._queue: deque[Reply] = deque()
        self._stopping = threading.Event()
        self.oauth = OAuthIssuer()
        self._server = _QuietServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def always(self, reply: Reply) -> None:
        """Answer every following request with ``reply`` (clears queued one-shots)."""
        with self._lock:
            self._default = reply
            self._queue.clear()

    def then(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, then the default again."""
        with self._lock:
            self._queue.extend(replies)

    def message_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/v1/messages")]

    def turns_by_session(self) -> dict[str, int]:
        """Messages requests per Claude session (the CLI names its session in a header)."""
        counts: dict[str, int] = {}
        for request in self.message_requests():
            session = request.headers.get("x-claude-code-session-id", "")
            counts[session] = counts.get(session, 0) + 1
        return counts

    def input_tokens_sent(self) -> int:
        """Roughly the input tokens the messages requests carried (system prompt, tools, history; 4 characters
        a token)."""
        return sum(len(json.dumps(r.body or {})) // 4 for r in self.message_requests())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._default = Reply.success()
            self.oauth = OAuthIssuer()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self._default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> FakeAnthropicAPI:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAnthropicAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tool_results(body: dict[str, Any]) -> int:
    """How many tool results the conversation in ``body`` carries (the turns a script has had)."""
    count = 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            count += sum(1 for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return count


def _make_handler(fake: FakeAnthropicAPI) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one handler, every reply kind
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                return None
            return parsed if isinstance(parsed, dict) else None

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            fake._record(RecordedRequest("GET", self.path, self._headers(), None))
            if self.path == "/_fake/requests":
                self._send_json(200, {"messages": len(fake.message_requests())})
                return
            if self.path == "/_fake/bodies":  # what the CLI sent (tool results included), for leak checks
                self._send_json(200, [r.body for r in fake.message_requests()])
                return
            if self.path == "/_fake/oauth":  # the token endpoint's counters
                with fake._lock:
                    issuer = fake.oauth
                    self._send_json(
                        200,
                        {
                            "refreshes": issuer.refreshes,
                            "invalid_grants": issuer.invalid_grants,
                            "issued": issuer.issued,
                        },
                    )
                return
            self._send_json(404, _error_body("not_found_error", "Not found"))

        def do_POST(self) -> None:
            body = self._body()
            if self.path == "/_fake/reply":
                payload = dict(body or {})
                if "resets_in" in payload:
                    payload["resets_at"] = int(time.time() + float(payload.pop("resets_in")))
                if payload.get("lift_at_reset") and payload.get("resets_at"):
                    # the CLI reports whole seconds; lift on the exact second it was told
                    payload["resets_at"] = int(payload["resets_at"])
                fake.always(Reply(**payload))
                self._send_json(200, {"ok": True})
                return
            if self.path == "/_fake/oauth":  # a fresh login with these token lifetimes: {"expires_in", "strict"}
                with fake._lock:
                    fake.oauth = OAuthIssuer(
                        expires_in=float((body or {}).get("expires_in", 3600)), strict=bool((body or {}).get("strict"))
                    )
                    login = fake.oauth.login_file()
                self._send_json(200, login)
                return
            fake._record(RecordedRequest("POST", self.path, self._headers(), body))
            if self.path == "/v1/oauth/token":
                with fake._lock:
                    pair = fake.oauth.refresh(str((body or {}).get("refresh_token", "")))
                if pair is None:
                    self._send_json(400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
                else:
                    self._send_json(200, pair)
                return
            if not self.path.startswith("/v1/messages"):
                self._send_json(404, _error_body("not_found_error", "Not found"))
                return
            if fake.oauth.refuses(self._headers()):
                status, err_type, message, headers = _ERRORS["oauth_expired"]
                self._send_json(status, _error_body(err_type, message), headers)
                return
            reply = fake._next_reply().effective(self._headers())
            walled = reply.kind == "script" and reply.wall_at is not None and _tool_results(body or {}) >= reply.wall_at
            if walled and reply.resets_at is None and reply.wall_for is not None:
                reply.resets_at = int(time.time() + reply.wall_for) + 1  # whole seconds, as the headers carry
            if walled and time.time() < (reply.resets_at or 0):
                reply = Reply.usage_limit(reply.resets_at or 0, reply.claim)
            if reply.delay:
                time.sleep(reply.delay)
            self._answer(reply, body or {})

        def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
            if reply.kind == "hang":
                fake._stopping.wait(HANG_LIMIT_S)
                return
            if reply.kind in ("success", "tool_use", "script"):
                self._success(reply, body)
                return
            if reply.kind == "usage_limit":
                reset = reply.resets_at or int(time.time() + 3600)
                short = {"five_hour": "5h", "seven_day": "7d"}.get(reply.claim, "5h")
                headers = {
                    "anthropic-ratelimit-unified-status": "rejected",
                    "anthropic-ratelimit-unified-reset": str(reset),
                    "anthropic-ratelimit-unified-representative-claim": reply.claim,
                    f"anthropic-ratelimit-unified-{short}-status": "rejected",
                    f"anthropic-ratelimit-unified-{short}-reset": str(reset),
                    f"anthropic-ratelimit-unified-{short}-utilization": "1.0",
                    "anthropic-ratelimit-unified-overage-status": "rejected",
                    "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
                }
                message = "This request would exceed your account's rate limit. Please try again later."
                self._send_json(429, _error_body("rate_limit_error", message), headers)
                return
            if reply.kind == "rate_limit":
                headers = {"retry-after": str(reply.retry_after or 7)}
                message = "This request would exceed the rate limit for your organization of 50 requests per minute."
                self._send_json(429, _error_body("rate_limit_error", reply.message or message), headers)
                return
            status, err_type, message, headers = _ERRORS[reply.kind]
            self._send_json(status, _error_body(err_type, reply.message or message), headers)

        def _success(self, reply: Reply, body: dict[str, Any]) -> None:
            model = str(body.get("model") or MODEL)
            usage = {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
            done = _tool_results(body)
            if reply.kind == "script" and done < len(reply.calls):
                call = reply.calls[done]
                block: dict[str, Any] = {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:20]}",
                    "name": call["name"],
                    "input": call["input"],
                }
                stop_reason = "tool_use"
            elif reply.kind == "tool_use":
                block = {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:20]}",
                    "name": "Read",
                    "input": {"file_path": "/nonexistent/claude-workers-fake"},
                }
                stop_reason = "tool_use"
            else:
                block = {"type": "text", "text": reply.text}
                stop_reason = "end_turn"
            message = {
                "id": f"msg_fake_{uuid.uuid4().hex[:16]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [block],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
            if not body.get("stream"):
                self._send_json(200, message)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
            events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
            if block["type"] == "text":
                events += [
                    (
                        "content_block_start",
                        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    ),
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": reply.text},
                        },
                    ),
                ]
            else:
                events += [
                    (
                        "content_block_start",
                        {"type": "content_block_start", "index": 0, "content_block": dict(block, input={})},
                    ),
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                        },
                    ),
                ]
            events += [
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                        "usage": {"output_tokens": reply.output_tokens},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
            for name, data in events:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Anthropic API (tests and benchmarks only).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container (the Docker tests)")
    parser.add_argument("--reply", default="success", help="initial reply kind")
    args = parser.parse_args()
    fake = FakeAnthropicAPI(port=args.port, host=args.host)
    fake.always(Reply(kind=args.reply))
    print(json.dumps({"url": fake.url, "reply": asdict(fake._default)}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    main()
