"""Batches: many job specs keyed by ``custom_id``, results out as JSONL keyed the same way.

A batch's id is the hash of its content unless one is given, and each job's idempotency key
is derived from the batch id and its ``custom_id``: submitting the same batch again enqueues
nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from redis import Redis

from app.errors import ClaudeWorkersError
from app.fleet import clients, deliveries
from app.fleet.clients import Client
from app.fleet.gate import Gate
from app.fleet.keys import Keys
from app.jobs import callback_url, policy, service, tenancy
from app.jobs.spec import JobSpec
from app.jobs.submit import enqueue
from app.settings import Settings
from app.states import ENDED_STATUSES

MAX_BATCH = 100_000
DONE = ENDED_STATUSES
_KEEP_EXTRA_S = 30 * 86400


class BatchInvalid(ClaudeWorkersError):
    """Some lines of a batch are not valid job specs; nothing was enqueued."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("The batch was not submitted; fix these lines:\n  " + "\n  ".join(shown))
        self.problems = problems


class BatchNotFound(ClaudeWorkersError):
    """No batch has this id."""


@dataclass(frozen=True)
class BatchItem:
    custom_id: str
    spec: JobSpec


def parse_items(records: Iterable[tuple[int, Any]]) -> list[BatchItem]:
    """Validate ``(line number, decoded JSON)`` pairs; raise BatchInvalid listing every bad line."""
    items: list[BatchItem] = []
    problems: list[str] = []
    seen: set[str] = set()
    for line_no, record in records:
        if not isinstance(record, dict):
            problems.append(f"line {line_no}: expected a JSON object")
            continue
        body = dict(record)
        custom_id = body.pop("custom_id", None)
        if not isinstance(custom_id, str) or not custom_id.strip() or len(custom_id) > 200:
            problems.append(f"line {line_no}: custom_id must be a non-empty string of at most 200 characters")
            continue
        if custom_id in seen:
            problems.append(f"line {line_no}: custom_id {custom_id!r} appears twice")
            continue
        seen.add(custom_id)
        try:
            items.append(BatchItem(custom_id, JobSpec.model_validate(body)))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(body)"
                problems.append(f"line {line_no} ({custom_id}): {field}: {err['msg']}")
    if len(items) + len(problems) > MAX_BATCH:
        problems.append(f"a batch holds at most {MAX_BATCH} jobs")
    if problems:
        raise BatchInvalid(problems)
    if not items:
        raise BatchInvalid(["the batch is empty"])
    return items


def parse_jsonl(text: str) -> list[BatchItem]:
    records: list[tuple[int, Any]] = []
    problems: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((line_no, json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"line {line_no}: not valid JSON ({exc.msg})")
    if problems:
        raise BatchInvalid(problems)
    return parse_items(records)


def content_id(items: list[BatchItem]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.custom_id.encode() + b"\0" + item.spec.model_dump_json().encode() + b"\n")
    return "b" + digest.hexdigest()[:20]


def _key(settings: Settings, batch_id: str) -> str:
    return Keys(settings.claude_workers_prefix).batch(batch_id)


def submit(
    conn: Redis,
    settings: Settings,
    items: list[BatchItem],
    batch_id: str | None = None,
    progress: Any = None,
    callback: str | None = None,
    client: Client | None = None,
) -> dict[str, Any]:
    """Enqueue every item once. ``progress`` (optional) is called with each item as it is done;
    ``callback`` gets the batch's webhook when its last job ends; ``client`` owns the batch."""
    keys = Keys(settings.claude_workers_prefix)
    callback_url.check_callback(callback, settings)
    if client is not None:
        batch_id = f"{client.name}.{batch_id or content_id(items)}"  # one client's ids never meet another's
        if client.max_queued and clients.open_count(conn, keys, client.name) + len(items) > client.max_queued:
            raise tenancy.over_open_limit(client)
    checked: set[str] = set()  # a URL's host is resolved once, not once per job
    for item in items:  # the whole batch is allowed, or nothing of it is queued
        try:
            policy.check(item.spec, settings)
            if client is not None:
                tenancy.check_session(conn, keys, client.name, item.spec)
            if item.spec.callback_url is not None and item.spec.callback_url not in checked:
                callback_url.check_callback(item.spec.callback_url, settings)
                checked.add(item.spec.callback_url)
        except (policy.PolicyViolation, callback_url.CallbackRefused, tenancy.SessionNotYours) as exc:
            raise type(exc)(f"Job {item.custom_id!r}: {exc.message}", hint=exc.hint) from None
    batch_id = batch_id or content_id(items)
    key = _key(settings, batch_id)
    ttl = settings.claude_result_ttl + _KEEP_EXTRA_S
    new = 0
    for item in items:
        ident = hashlib.sha256(f"{batch_id}\0{item.custom_id}".encode()).hexdigest()[:24]
        spec = item.spec.model_copy(update={"idempotency_key": f"batch.{batch_id}.{ident}"})
        job, created = enqueue(conn, settings, spec, batch=batch_id, client=client)
        new += created
        conn.hsetnx(f"{key}:jobs", item.custom_id, job.id)
        if conn.sadd(f"{key}:seen", item.custom_id):
            conn.rpush(keys.batch_order(batch_id), item.custom_id)
        if progress is not None:
            progress(item)
    conn.zadd(keys.batches, {batch_id: time.time()}, nx=True)
    conn.zremrangebyscore(keys.batches, "-inf", time.time() - ttl)  # those whose records expired
    for suffix in (":jobs", ":order", ":seen"):
        conn.expire(f"{key}{suffix}", ttl)
    if callback is not None:  # armed only now: a fast first job must not find the batch "complete"
        deliveries.arm_batch(conn, keys, batch_id, callback)
    return {"id": batch_id, "total": len(items), "new": new, "existing": len(items) - new}


def owner(batch_id: str) -> str | None:
    """The client a batch belongs to (its id starts with the client's name and a dot), or None."""
    return batch_id.split(".", 1)[0] if "." in batch_id else None


def _mapping(conn: Redis, settings: Settings, batch_id: str) -> tuple[list[str], dict[str, str]]:
    key = _key(settings, batch_id)
    order = [c.decode() for c in conn.lrange(Keys(settings.claude_workers_prefix).batch_order(batch_id), 0, -1)]  # type: ignore[union-attr]
    if not order:
        raise BatchNotFound(f"No batch {batch_id!r}.", hint="Submit one with: claude-workers batch submit FILE.jsonl")
    raw = conn.hgetall(f"{key}:jobs")
    return order, {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


def results(conn: Redis, settings: Settings, batch_id: str) -> Iterator[dict[str, Any]]:
    """One object per ``custom_id``, in submission order."""
    order, jobs = _mapping(conn, settings, batch_id)
    gate = Gate.of(conn, settings).read()
    for custom_id in order:
        job_id = jobs.get(custom_id)
        try:
            view = service.job_view(service.fetch(conn, job_id, settings), gate) if job_id else None
        except service.JobNotFound:
            view = None
        if view is None:
            yield {"custom_id": custom_id, "id": job_id, "status": "expired", "result": None, "error": None}
            continue
        yield {
            "custom_id": custom_id,
            "id": view["id"],
            "status": view["status"],
            "result": view["result"],
            "error": view["error"],
        }


def summary(conn: Redis, settings: Settings, batch_id: str) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in results(conn, settings, batch_id):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    total = sum(counts.values())
    done = sum(n for status, n in counts.items() if status in (*DONE, "expired"))
    return {"id": batch_id, "total": total, "counts": counts, "done": done, "complete": done == total}


def view(conn: Redis, settings: Settings, batch_id: str) -> dict[str, Any]:
    """The summary, with every try of the batch's own webhook when it has one (the summary alone is
    what that webhook sends)."""
    found = summary(conn, settings, batch_id)
    tries = deliveries.history(conn, Keys(settings.claude_workers_prefix), batch_id)
    if tries:
        found["webhooks"] = tries
    return found


def recent(conn: Redis, settings: Settings, limit: int = 20, client: str | None = None) -> list[dict[str, Any]]:
    """The newest batches (``client``'s only, when a client asks) with their progress: cheap enough to
    show live (no job is read)."""
    keys = Keys(settings.claude_workers_prefix)
    end = -1 if client else limit - 1
    newest: list[tuple[bytes, float]] = conn.zrevrange(keys.batches, 0, end, withscores=True)  # type: ignore[assignment]
    if client is not None:
        newest = [(raw, at) for raw, at in newest if owner(raw.decode()) == client][:limit]
    with conn.pipeline(transaction=False) as pipe:
        for raw, _ in newest:
            pipe.llen(keys.batch_order(raw.decode()))
            pipe.scard(keys.batch_ended(raw.decode()))
        counts = pipe.execute()
    rows = []
    for (raw, at), total, ended in zip(newest, counts[::2], counts[1::2], strict=True):
        if total:
            rows.append(
                {
                    "id": raw.decode(),
                    "submitted_at": at,
                    "total": total,
                    "ended": min(ended, total),
                    "complete": ended >= total,
                }
            )
    return rows
