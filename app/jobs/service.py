"""Reading and changing jobs: the operations the CLI, the HTTP API and the client share.

A job's public status is RQ's, except that a queued job behind a closed fleet gate is
``waiting``. The public object is the same everywhere (``claude-workers jobs show --json``,
``GET /jobs/{id}``).
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime
from typing import Any

import redis
from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import DefaultSerializer

from app.errors import ClaudeWorkersError
from app.fleet import clients, deliveries, endings
from app.fleet.keys import Keys
from app.fleet.state import FleetState
from app.jobs.submit import queue_for
from app.settings import Settings
from app.states import JOB_STATUSES

PUBLIC_STATUSES = JOB_STATUSES


class JobNotFound(ClaudeWorkersError):
    """No job has this id (it never existed, or its result expired)."""


class JobStateConflict(ClaudeWorkersError):
    """The job is not in a state that allows this operation."""


class AmbiguousJobId(ClaudeWorkersError):
    """An id prefix that more than one job's id starts with."""


#: any unique prefix of a job id of this length or more stands for the job
MIN_ID_PREFIX = 6
#: what a job id may hold (RQ's ids, ours are 32 hex digits); also keeps glob characters out of SCAN
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _not_found(job_id: str) -> JobNotFound:
    return JobNotFound(f"No job {job_id!r}.", hint="List jobs with: claude-workers jobs list")


def resolve(conn: Redis, settings: Settings, job_id: str) -> str:
    """The full id of the job ``job_id`` names: its id, or a unique prefix of it (6 characters or more)."""
    if not _ID.match(job_id):
        raise _not_found(job_id)
    if conn.exists(Keys.rq_job(job_id)):
        return job_id
    if len(job_id) < MIN_ID_PREFIX:
        raise JobNotFound(f"No job {job_id!r}.", hint=f"Give the id, or at least its first {MIN_ID_PREFIX} characters.")
    found = {
        key.decode().split(":", 2)[2]
        for key in conn.scan_iter(match=Keys.rq_jobs_starting_with(job_id), count=1000)
        if key.count(b":") == 2  # not a job's sub-key (dependents, ...)
    }
    queue = Keys(settings.claude_workers_prefix).queue
    with conn.pipeline(transaction=False) as pipe:
        for candidate in sorted(found):
            pipe.hget(Keys.rq_job(candidate), "origin")
        origins = pipe.execute()
    ours: list[str] = [c for c, origin in zip(sorted(found), origins, strict=True) if origin == queue.encode()]
    if not ours:
        raise _not_found(job_id)
    if len(ours) > 1:
        shown = ", ".join(ours[:10]) + (f" and {len(ours) - 10} more" if len(ours) > 10 else "")
        raise AmbiguousJobId(f"{job_id!r} starts {len(ours)} job ids: {shown}.", hint="Give more of the id.")
    return ours[0]


def fetch(conn: Redis, job_id: str, settings: Settings | None = None) -> Job:
    """The job ``job_id`` names; with ``settings``, a unique prefix works too, and only this fleet's jobs count."""
    full = resolve(conn, settings, job_id) if settings is not None else job_id
    try:
        job = Job.fetch(full, connection=conn)
    except (NoSuchJobError, ValueError):  # ValueError: not even a valid RQ job id
        raise _not_found(job_id) from None
    if settings is not None and job.origin != Keys(settings.claude_workers_prefix).queue:
        raise _not_found(job_id)  # another deployment's job on the same Redis
    return job


def fetch_for(conn: Redis, settings: Settings, job_id: str, client: str | None) -> Job:
    """``fetch`` as ``client`` sees it: another client's job does not exist for it (404, not 403, so ids do
    not leak), and neither does a prefix that would name another's; ``None`` is the operator, who sees all."""
    try:
        job = fetch(conn, job_id, settings)
    except AmbiguousJobId:
        if client is None:
            raise
        raise _not_found(job_id) from None
    if client is not None and clients.owner_of(job) != client:
        raise _not_found(job_id)
    return job


def public_status(job: Job, gate: FleetState | None) -> str:
    status = job.get_status(refresh=False)
    value = status.value if isinstance(status, JobStatus) else str(status)
    if value in ("stopped",):
        return "failed"
    if value == "deferred":
        return "queued"
    if value == "queued" and gate is not None and not gate.is_open:
        return "waiting"
    return value if value in PUBLIC_STATUSES else "queued"


def spec_of(job: Job) -> dict[str, Any]:
    """The spec a job was submitted with ({} for a job that is not a Claude job of ours)."""
    args = job.args or ()
    return args[0] if args and isinstance(args[0], dict) else {}


def job_view(job: Job, gate: FleetState | None = None) -> dict[str, Any]:
    """The public JSON object of one job."""
    status = public_status(job, gate)
    meta = job.meta or {}
    spec = spec_of(job)
    view: dict[str, Any] = {
        "id": job.id,
        "status": status,
        "spec": spec,
        "metadata": meta.get("metadata") or spec.get("metadata") or {},
        "client": clients.owner_of(job),
        "submitted_at": meta.get("submitted_at") or _epoch(job.enqueued_at),
        "started_at": _epoch(job.started_at),
        "ended_at": _epoch(job.ended_at),
        "attempts": meta.get("attempts", []),
        "deferrals": meta.get("deferrals", 0),
        "spent": meta.get("spent", {}),
        "duplicate_runs": bool(meta.get("duplicate_runs")),
        "next_attempt_at": None,
        "result": None,
        "error": None,
    }
    if status == "scheduled":
        scheduled = ScheduledJobRegistry(queue=queue_for_job(job)).get_scheduled_time(job)
        view["next_attempt_at"] = _epoch(scheduled)
    elif status == "waiting" and gate is not None:
        view["next_attempt_at"] = gate.until
    if status == "finished":
        value = job.return_value(refresh=False)
        view["result"] = value if isinstance(value, dict) else {"text": str(value)}
    if status == "failed":
        view["error"] = _failure_text(job)
    if meta.get("callback_url"):
        view["webhooks"] = deliveries.history(job.connection, Keys(job.origin), job.id)
    return view


def queue_for_job(job: Job) -> Queue:
    return Queue(job.origin, connection=job.connection)


def _failure_text(job: Job) -> str:
    if isinstance((job.meta or {}).get("error"), str):
        return str(job.meta["error"])  # written by the guard when it failed the job
    latest = job.latest_result()
    text = (latest.exc_string if latest is not None else None) or job.exc_info or "The job failed."
    # the last line of a traceback is the exception and its message; ours is the readable part
    marker = "app.errors.JobFailed: "
    if marker in text:
        return text.split(marker, 1)[1].strip()
    return text.strip().splitlines()[-1] if text.strip() else "The job failed."


#: how many ids a client's page reads at once while it skips other clients' jobs
CLIENT_READ_AHEAD = 200

#: where each public status lives: (status, Redis key template, kind); listing walks them in this order
_SOURCES = (
    ("started", "wip", "zset"),
    ("queued", "queue", "list"),
    ("scheduled", "scheduled", "zset"),
    ("failed", "failed", "zset"),
    ("finished", "finished", "zset"),
    ("canceled", "canceled", "zset"),
)


def _ids(conn: Redis, key: str, kind: str, start: int, count: int) -> list[str]:
    end = start + count - 1
    raw: list[bytes] = conn.lrange(key, start, end) if kind == "list" else conn.zrevrange(key, start, end)  # type: ignore[assignment]
    # started entries are "job_id:execution_id"
    return [r.decode().split(":", 1)[0] for r in raw]


def _fetch_owned(conn: Redis, ids: list[str], client: str | None) -> list[Job | None]:
    """The jobs of ``ids`` in one round trip (None for one that is gone, or that is not ``client``'s).

    For a client, each job's meta is read first and only its own jobs whole: a whole job is some
    40 fields, and a client's page may read past thousands of other clients' jobs."""
    if not ids:
        return []
    if client is None:
        return Job.fetch_many(ids, connection=conn)
    with conn.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(Job.key_for(job_id), "meta")
        metas: list[bytes | None] = pipe.execute()
    owned = [job_id for job_id, meta in zip(ids, metas, strict=True) if meta and _owner(meta) == client]
    found = dict(zip(owned, Job.fetch_many(owned, connection=conn), strict=True)) if owned else {}
    return [found.get(job_id) for job_id in ids]


def _owner(meta: bytes) -> str | None:
    try:
        owner = DefaultSerializer.loads(meta).get("client")
    except Exception:  # unreadable meta (another serializer's job): not a client's
        return None
    return owner if isinstance(owner, str) else None


def list_jobs(
    conn: Redis,
    settings: Settings,
    gate: FleetState | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    client: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of jobs, newest first within each status, and the cursor of the next page (only
    ``client``'s jobs when a client asks)."""
    wanted = "queued" if status == "waiting" else status
    sources = [s for s in _SOURCES if wanted is None or s[0] == wanted]
    index, offset = 0, 0
    if cursor:
        try:
            index_text, offset_text = cursor.split(".", 1)
            index, offset = int(index_text), int(offset_text)
        except ValueError:
            raise JobStateConflict(f"Bad cursor {cursor!r}; use the next_cursor of the previous page.") from None
    keys = Keys(settings.claude_workers_prefix)
    views: list[dict[str, Any]] = []
    seen: set[str] = set()
    while index < len(sources) and len(views) < limit:
        _, registry, kind = sources[index]
        # a client's page skips other clients' jobs: read ahead in larger steps, one round trip each
        step = limit - len(views) if client is None else max(limit - len(views), CLIENT_READ_AHEAD)
        ids = _ids(conn, keys.rq_queue if kind == "list" else keys.rq_registry(registry), kind, offset, step)
        consumed = 0
        for job_id, job in zip(ids, _fetch_owned(conn, ids, client), strict=True):
            if len(views) >= limit:
                break
            consumed += 1
            if job is None or job_id in seen:
                continue
            seen.add(job_id)
            view = job_view(job, gate)
            if status is None or view["status"] == status:
                views.append(view)
        offset += consumed
        if len(ids) < step and consumed == len(ids):  # this source is exhausted
            index, offset = index + 1, 0
    next_cursor = f"{index}.{offset}" if index < len(sources) else None
    return views, next_cursor


def requeue(conn: Redis, settings: Settings, job_id: str, client: str | None = None) -> Job:
    """Put a failed (or canceled) job back on the queue with fresh budgets; its history stays.

    Under a short per-job lock, so that of two requeues sent at once exactly one puts the job
    back; the other finds it queued and is refused.
    """
    job_id = fetch_for(conn, settings, job_id, client).id
    lock = conn.lock(Keys(settings.claude_workers_prefix).requeue_lock(job_id), timeout=30, blocking_timeout=10)
    if not lock.acquire():
        raise JobStateConflict(f"Job {job_id} is being requeued by another request; look at it again in a moment.")
    try:
        job = fetch(conn, job_id, settings)
        status = job.get_status()
        if status not in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            raise JobStateConflict(
                f"Job {job_id} is {public_status(job, None)}, not failed; only failed or canceled jobs are requeued."
            )
        job.meta["spent"] = {}
        job.meta.pop("error", None)
        job.meta.setdefault("requeued_at", []).append(time.time())
        job.save_meta()
        registry = FailedJobRegistry(queue=queue_for(conn, settings))
        try:
            registry.requeue(job)
        except InvalidJobOperation:  # canceled jobs are not in the failed registry
            queue_for(conn, settings)._enqueue_job(job)
    finally:
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
    return fetch(conn, job_id)


def cancel(conn: Redis, settings: Settings, job_id: str, client: str | None = None) -> Job:
    """Cancel a job that has not started (queued, waiting or scheduled)."""
    job = fetch_for(conn, settings, job_id, client)
    job_id = job.id
    status = job.get_status()
    if status not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        raise JobStateConflict(
            f"Job {job_id} is {public_status(job, None)}; only queued, waiting or scheduled jobs can be canceled."
        )
    job.cancel()
    endings.job_ended(job, "job.canceled")
    return fetch(conn, job_id)
