"""Webhook deliveries owed, in Redis: scheduled when a job or batch ends, claimed by any worker.

A delivery is a hash (what ended, the event, where to, which try) and an entry in one sorted set
scored by when it is due. Any worker's dispatcher (``app.jobs.webhooks``) claims the next due
one by pushing its score a lease into the future, so a dispatcher killed mid-delivery leaves it
to be tried again, never lost; at-least-once, and the delivery id lets a receiver drop repeats.
Every try is appended to the job's (or batch's) webhook log, which its view shows.

This module only does Redis: it runs where jobs end (the worker, a cancel), below the layer
that knows what a job view is.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from redis import Redis
from rq.job import Job

from app.fleet.keys import Keys

#: how long a delivery's record and a job's webhook log are kept (past any result TTL of note)
KEEP_S = 30 * 86400

_CLAIM = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('zadd', KEYS[1], ARGV[2], due[1])
return due[1]
"""

#: a batch's job ended (ARGV[1], or '' when the batch's callback is just armed): the one call that
#: finds every job ended while the callback is armed takes the callback, so exactly one fires it
_BATCH_END = """
if ARGV[1] ~= '' then
  redis.call('sadd', KEYS[1], ARGV[1])
  redis.call('expire', KEYS[1], ARGV[2])
end
local total = redis.call('llen', KEYS[2])
if total > 0 and redis.call('scard', KEYS[1]) >= total then
  local url = redis.call('get', KEYS[3])
  if url then
    redis.call('del', KEYS[3])
    redis.call('set', KEYS[4], '1', 'ex', ARGV[2])
    return url
  end
end
return false
"""

#: arm a batch's callback unless its webhook was already owed (submitting the batch again sends no second)
_ARM = """
if redis.call('exists', KEYS[2]) == 1 then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'ex', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Delivery:
    id: str
    subject: str  # "job" or "batch"
    subject_id: str
    event: str  # job.finished, job.failed, job.canceled, batch.ended
    url: str
    tries: int  # tries made before this one
    body: bytes | None  # built at the first try, then sent unchanged


def schedule(conn: Redis, keys: Keys, subject: str, subject_id: str, event: str, url: str) -> str:
    delivery_id = uuid.uuid4().hex
    with conn.pipeline() as pipe:
        pipe.hset(
            keys.webhook(delivery_id),
            mapping={"subject": subject, "subject_id": subject_id, "event": event, "url": url, "tries": 0},
        )
        pipe.expire(keys.webhook(delivery_id), KEEP_S)
        pipe.zadd(keys.webhook_queue, {delivery_id: time.time()})
        pipe.execute()
    return delivery_id


def job_ended(job: Job, event: str) -> None:
    """Owe the job's webhook (if it has one) and, if it was its batch's last, the batch's. Never raises:
    a Redis hiccup here must not fail the job it reports on."""
    meta = job.meta or {}
    keys = Keys(job.origin)
    with contextlib.suppress(redis.RedisError):
        if isinstance(meta.get("callback_url"), str):
            schedule(job.connection, keys, "job", job.id, event, meta["callback_url"])
        if isinstance(meta.get("batch"), str):
            _batch_progress(job.connection, keys, meta["batch"], job.id)


def arm_batch(conn: Redis, keys: Keys, batch_id: str, url: str) -> None:
    """Send ``url`` the batch's webhook when its last job ends (at once if they all have), once per batch."""
    if conn.eval(_ARM, 2, keys.batch_callback(batch_id), keys.batch_callback_sent(batch_id), url, KEEP_S):
        _batch_progress(conn, keys, batch_id, "")


def _batch_progress(conn: Redis, keys: Keys, batch_id: str, job_id: str) -> None:
    url = conn.eval(
        _BATCH_END,
        4,
        keys.batch_ended(batch_id),
        keys.batch_order(batch_id),
        keys.batch_callback(batch_id),
        keys.batch_callback_sent(batch_id),
        job_id,
        KEEP_S,
    )
    if isinstance(url, bytes):
        schedule(conn, keys, "batch", batch_id, "batch.ended", url.decode())


def claim(conn: Redis, keys: Keys, lease_s: float) -> Delivery | None:
    """The next due delivery, now leased to the caller for ``lease_s`` seconds; None if none is due."""
    now = time.time()
    while True:
        raw = conn.register_script(_CLAIM)(keys=[keys.webhook_queue], args=[now, now + lease_s])
        if not isinstance(raw, bytes):
            return None
        delivery_id = raw.decode()
        fields: dict[bytes, bytes] = conn.hgetall(keys.webhook(delivery_id))  # type: ignore[assignment]
        if not fields:  # its record expired: nothing left to send
            conn.zrem(keys.webhook_queue, delivery_id)
            continue
        values = {k.decode(): v for k, v in fields.items()}
        return Delivery(
            id=delivery_id,
            subject=values["subject"].decode(),
            subject_id=values["subject_id"].decode(),
            event=values["event"].decode(),
            url=values["url"].decode(),
            tries=int(values.get("tries", b"0")),
            body=values.get("body"),
        )


def keep_body(conn: Redis, keys: Keys, delivery: Delivery, body: bytes) -> None:
    conn.hset(keys.webhook(delivery.id), "body", body)


def finish(conn: Redis, keys: Keys, delivery: Delivery) -> None:
    """Accepted, or given up: nothing more is owed."""
    with conn.pipeline() as pipe:
        pipe.zrem(keys.webhook_queue, delivery.id)
        pipe.delete(keys.webhook(delivery.id))
        pipe.execute()


def retry_at(conn: Redis, keys: Keys, delivery: Delivery, when: float) -> None:
    with conn.pipeline() as pipe:
        pipe.hset(keys.webhook(delivery.id), "tries", delivery.tries + 1)
        pipe.zadd(keys.webhook_queue, {delivery.id: when})
        pipe.execute()


def record(conn: Redis, keys: Keys, delivery: Delivery, entry: dict[str, Any]) -> None:
    log_key = keys.webhook_log(delivery.subject_id)
    with conn.pipeline() as pipe:
        pipe.rpush(log_key, json.dumps({"delivery": delivery.id, "event": delivery.event, **entry}))
        pipe.expire(log_key, KEEP_S)
        pipe.execute()


def history(conn: Redis, keys: Keys, subject_id: str) -> list[dict[str, Any]]:
    """Every try of every webhook of one job or batch, oldest first."""
    raw: list[bytes] = conn.lrange(keys.webhook_log(subject_id), 0, -1)  # type: ignore[assignment]
    return [json.loads(r) for r in raw]


def pending(conn: Redis, keys: Keys) -> int:
    """Deliveries owed and not yet accepted or given up."""
    return int(conn.zcard(keys.webhook_queue))
