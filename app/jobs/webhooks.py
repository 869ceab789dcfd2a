"""Webhooks: a signed POST to a job's (or batch's) ``callback_url`` when it ends.

What is sent: the job view (``GET /jobs/{id}``), or the batch summary for a batch. Headers:

* ``X-Claude-Workers-Event``: ``job.finished``, ``job.failed``, ``job.canceled`` or ``batch.ended``;
* ``X-Claude-Workers-Delivery``: the same on every try of one delivery (drop repeats by it);
* ``X-Claude-Workers-Timestamp``: Unix seconds of this try;
* ``X-Claude-Workers-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with
  ``CLAUDE_WORKERS_WEBHOOK_SECRET``, of ``<timestamp>.<body>``. Signing the timestamp with the
  body means an old call cannot be replayed with a new timestamp.

A 2xx answer accepts it. Anything else (or no answer within ``CLAUDE_WORKERS_WEBHOOK_TIMEOUT``)
is tried again after ``CLAUDE_WORKERS_WEBHOOK_RETRY_DELAYS``; every try is recorded on the job.
Redirects are not followed.

Where it may go is ``callback_url``'s call; each try connects to the very address it checked, so a
DNS answer that changes after the check cannot steer it inside the network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis import Redis

from app.chore import Chore
from app.errors import ClaudeWorkersError
from app.fleet import deliveries
from app.fleet.deliveries import Delivery
from app.fleet.gate import Gate
from app.fleet.keys import Keys
from app.jobs import batch, service
from app.jobs.callback_url import CallbackRefused, resolve, webhook_secret
from app.settings import Settings

log = logging.getLogger("app.webhooks")

EVENT_HEADER = "X-Claude-Workers-Event"
DELIVERY_HEADER = "X-Claude-Workers-Delivery"
TIMESTAMP_HEADER = "X-Claude-Workers-Timestamp"
SIGNATURE_HEADER = "X-Claude-Workers-Signature"
USER_AGENT = "claude-workers-webhooks"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` aimed at ``address``, with the Host header (and TLS name) of the original host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal + (f":{parts.port}" if parts.port else "")
    target = parts._replace(netloc=netloc).geturl()
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return target, {"host": host_header}, extensions


class Dispatcher(Chore):
    """A worker's thread that sends the webhooks the fleet owes (any worker may send any)."""

    name = "webhooks"

    def __init__(self, conn: Redis, settings: Settings, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.conn = conn
        self.settings = settings
        self.keys = Keys(settings.claude_workers_prefix)

    def round(self) -> None:
        while self.step():
            pass

    def step(self) -> bool:
        """Send one due delivery; False when none is due."""
        lease = self.settings.claude_workers_webhook_timeout + 30
        delivery = deliveries.claim(self.conn, self.keys, lease)
        if delivery is None:
            return False
        body = delivery.body
        if body is None:
            body = self._body(delivery)
            if body is None:  # what it reports on is gone (expired): nothing left to say
                deliveries.finish(self.conn, self.keys, delivery)
                return True
            deliveries.keep_body(self.conn, self.keys, delivery, body)
        status, error = self._send(delivery, body)
        accepted = status is not None and 200 <= status < 300
        delays = self.settings.webhook_retry_delays
        n = delivery.tries + 1
        next_try = None if accepted or n > len(delays) else time.time() + delays[n - 1]
        entry = {"try": n, "at": time.time(), "status_code": status, "error": error, "accepted": accepted}
        deliveries.record(self.conn, self.keys, delivery, {**entry, "next_try_at": next_try})
        if next_try is None:
            deliveries.finish(self.conn, self.keys, delivery)
            if not accepted:
                log.warning(
                    "webhook %s of %s %s given up after %d tries (%s)",
                    delivery.event,
                    delivery.subject,
                    delivery.subject_id,
                    n,
                    error or f"HTTP {status}",
                )
        else:
            deliveries.retry_at(self.conn, self.keys, delivery, next_try)
            log.info(
                "webhook %s of %s %s not accepted (%s); try %d in %gs",
                delivery.event,
                delivery.subject,
                delivery.subject_id,
                error or f"HTTP {status}",
                n + 1,
                delays[n - 1],
            )
        return True

    def _body(self, delivery: Delivery) -> bytes | None:
        try:
            if delivery.subject == "batch":
                view: dict[str, Any] = batch.summary(self.conn, self.settings, delivery.subject_id)
            else:
                job = service.fetch(self.conn, delivery.subject_id, self.settings)
                view = service.job_view(job, Gate.of(self.conn, self.settings).read())
        except ClaudeWorkersError:
            return None
        return json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode()

    def _send(self, delivery: Delivery, body: bytes) -> tuple[int | None, str | None]:
        """The receiver's status code, or None and why there was none."""
        secret = webhook_secret(self.settings)
        if secret is None:
            return None, "not sent: this worker has no CLAUDE_WORKERS_WEBHOOK_SECRET"
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        url, extensions = delivery.url, dict[str, Any]()
        try:
            if not self.settings.claude_workers_webhook_allow_private:
                url, host, extensions = _pinned(delivery.url, resolve(delivery.url, self.settings)[0])
                headers.update(host)
        except CallbackRefused as refused:
            return None, refused.message
        try:
            with httpx.Client(
                timeout=self.settings.claude_workers_webhook_timeout, follow_redirects=False, trust_env=False
            ) as client:
                answer = client.post(url, content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            return None, f"no answer: {type(exc).__name__}"
        return answer.status_code, None
