"""The fleet's events: one Redis stream per deployment, so that nobody has to poll.

Job events (``job.queued``, ``job.started``, ``job.waiting`` behind the gate, ``job.retried``,
``job.finished``, ``job.failed``, ``job.canceled``) and fleet events (``fleet.gate_closed``,
``fleet.gate_opened``, ``fleet.probe``, ``worker.joined``, ``worker.left``) are appended to
``<prefix>:event-stream``, capped at about ``MAX_EVENTS``. ``GET /events`` serves them as
server-sent events whose ids are the stream's ids, so a client that reconnects with
``Last-Event-ID`` misses none; ``claude-workers jobs watch`` and ``submit --wait`` read them too.

Writing an event never fails what it describes: a Redis hiccup loses the event, not the job.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis import Redis
from rq.job import Job

from app.fleet.keys import Keys

MAX_EVENTS = 10_000
JOB_KINDS = ("job.queued", "job.started", "job.waiting", "job.retried", "job.finished", "job.failed", "job.canceled")
FLEET_KINDS = ("fleet.gate_closed", "fleet.gate_opened", "fleet.probe", "worker.joined", "worker.left")
KINDS = JOB_KINDS + FLEET_KINDS
#: the events after which a job does nothing more (until someone requeues it)
JOB_ENDS = ("job.finished", "job.failed", "job.canceled")


@dataclass(frozen=True)
class Event:
    id: str  # the stream id: "<ms>-<seq>", ordered
    kind: str
    at: float
    job: str | None
    batch: str | None
    data: dict[str, Any]
    client: str | None = None  # the client whose job it is (None: the operator's, or a fleet event)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at, "job": self.job, "batch": self.batch, **self.data}

    def matches(
        self,
        job: str | None = None,
        batch: str | None = None,
        kinds: tuple[str, ...] = (),
        client: str | None = None,
    ) -> bool:
        return (
            (job is None or self.job == job)
            and (batch is None or self.batch == batch)
            and (client is None or self.client == client or self.kind in FLEET_KINDS)
            and (not kinds or self.kind in kinds or self.kind.split(".", 1)[0] in kinds)
        )


def emit(
    conn: Redis,
    keys: Keys,
    kind: str,
    *,
    job: str | None = None,
    batch: str | None = None,
    client: str | None = None,
    **data: Any,
) -> None:
    """Append one event (best effort: never raises)."""
    fields = {
        "kind": kind,
        "at": repr(time.time()),
        "job": job or "",
        "batch": batch or "",
        "client": client or "",
        "data": json.dumps(data),
    }
    with contextlib.suppress(redis.RedisError, OSError):
        conn.xadd(keys.event_stream, fields, maxlen=MAX_EVENTS, approximate=True)  # type: ignore[arg-type]


def emit_for(job: Job, kind: str, **data: Any) -> None:
    """An event about ``job``, on its own deployment's stream (its queue is the deployment's prefix)."""
    meta = job.meta or {}
    emit(job.connection, Keys(job.origin), kind, job=job.id, batch=meta.get("batch"), client=meta.get("client"), **data)


def _event(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Event:
    values = {k.decode(): v.decode() for k, v in fields.items()}
    return Event(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        kind=values.get("kind", ""),
        at=float(values.get("at") or 0),
        job=values.get("job") or None,
        batch=values.get("batch") or None,
        data=json.loads(values.get("data") or "{}"),
        client=values.get("client") or None,
    )


def read(conn: Redis, keys: Keys, after: str, block_ms: int | None = None, count: int = 500) -> list[Event]:
    """The events after ``after`` ("0": from the oldest kept, "$": only new ones), waiting up to ``block_ms``."""
    answer: list[Any] = conn.xread({keys.event_stream: after}, count=count, block=block_ms) or []  # type: ignore[assignment]
    return [_event(entry_id, fields) for _, entries in answer for entry_id, fields in entries]


def latest_id(conn: Redis, keys: Keys) -> str:
    """The id of the newest event ("0-0" when there is none): read after it for what comes next."""
    newest: list[Any] = conn.xrevrange(keys.event_stream, count=1)  # type: ignore[assignment]
    return str(newest[0][0].decode()) if newest else "0-0"


def follow(
    conn: Redis,
    keys: Keys,
    after: str,
    *,
    job: str | None = None,
    batch: str | None = None,
    kinds: tuple[str, ...] = (),
    client: str | None = None,
    block_ms: int = 4000,
    until: float | None = None,
) -> Iterator[Event | None]:
    """Matching events as they come, from after ``after``; None after each quiet ``block_ms`` (a keep-alive)."""
    last = after
    while until is None or time.monotonic() < until:
        found = read(conn, keys, last, block_ms=block_ms)
        if not found:
            yield None
            continue
        for event in found:
            last = event.id
            if event.matches(job, batch, kinds, client):
                yield event
