"""Putting jobs on the queue: the one place that knows how a Claude job is enqueued.

Every job gets: an exception-based ``Retry`` as the crash safety net (RQ honours it for jobs
abandoned by a killed worker), ``failure_ttl=-1`` so failed jobs stay until requeued or
deleted, a result TTL, an RQ timeout above the job's own (our runner classifies its own
timeouts first), and never RQ's ``ttl=`` (it silently drops delayed jobs).
"""

from __future__ import annotations

import time
import uuid

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app.fleet import clients, events, fairness
from app.fleet.clients import Client
from app.fleet.keys import Keys
from app.jobs import callback_url, policy, tenancy
from app.jobs.run import run_claude_job
from app.jobs.spec import JobSpec
from app.settings import Settings

#: seconds before re-running a job whose worker was killed; RQ reads this list right-aligned, so
#: with the default 5 re-runs the first three are immediate (they need no scheduler), then 30 s, 2 min
CRASH_RETRY_INTERVALS = [0, 30, 120]
#: an idempotency key outlives its job's result by this much (failed jobs are kept anyway)
IDEMPOTENCY_EXTRA_S = 30 * 86400
#: RQ's own timeout sits this far above ours, so a slow run is classified by us, not killed by RQ
RQ_TIMEOUT_MARGIN_S = 120


def queue_for(conn: Redis, settings: Settings) -> Queue:
    return Queue(Keys(settings.claude_workers_prefix).queue, connection=conn)


def enqueue(
    conn: Redis, settings: Settings, spec: JobSpec, *, batch: str | None = None, client: Client | None = None
) -> tuple[Job, bool]:
    """Enqueue ``spec`` (for ``client``, when a client sent it). Returns the job and whether it is new
    (False: the idempotency key matched)."""
    policy.check(spec, settings)
    if client is not None:
        tenancy.admit(conn, settings, client, spec)
    callback_url.check_callback(spec.callback_url, settings)
    keys = Keys(settings.claude_workers_prefix)
    job_id = uuid.uuid4().hex
    idempotency = keys.idempotency(f"{client.name}/{spec.idempotency_key}" if client else spec.idempotency_key or "")
    if spec.idempotency_key:
        existing = _claim_idempotency_key(conn, idempotency, job_id, settings)
        if existing is not None:
            return existing, False
    if client is not None and not clients.open_job(conn, keys, client, job_id):
        if spec.idempotency_key:  # this request claimed the key for a job it will not create
            conn.eval(_RELEASE, 1, idempotency, job_id)
        raise tenancy.over_open_limit(client)
    timeout = int((spec.timeout or settings.claude_job_timeout) + RQ_TIMEOUT_MARGIN_S)
    crash = settings.claude_crash_max_retries
    job = queue_for(conn, settings).enqueue(
        run_claude_job,
        spec.model_dump(mode="json"),
        job_id=job_id,
        job_timeout=timeout,
        result_ttl=settings.claude_result_ttl,
        failure_ttl=-1,
        retry=Retry(max=crash, interval=CRASH_RETRY_INTERVALS) if crash > 0 else None,
        at_front=False,  # high priority goes first within its client's share: fairness.place
        description=_describe(spec),
        meta={
            "submitted_at": time.time(),
            "idempotency_key": spec.idempotency_key,
            "metadata": spec.metadata,
            "batch": batch,
            "callback_url": spec.callback_url,
            "client": client.name if client else None,
        },
    )
    fairness.place(conn, keys, job.id, client.name if client else None, high=spec.priority == "high")
    events.emit(
        conn,
        keys,
        "job.queued",
        job=job.id,
        batch=batch,
        client=client.name if client else None,
        priority=spec.priority,
    )
    return job, True


#: swap the key's job id for ours only if it still names the one we found gone
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'ex', ARGV[3]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
#: how long a request waits for the job another request is creating under the same key
CLAIM_WAIT_S = 5.0


def _claim_idempotency_key(conn: Redis, key: str, job_id: str, settings: Settings) -> Job | None:
    """None: ``job_id`` now owns ``key`` (create it). Else the job that owns it (return that).

    Exactly one of any number of concurrent requests wins the key; the others wait for the
    winner's job to appear. A key whose job expired (or whose creator died before creating it)
    is taken over by exactly one request, by compare-and-set.
    """
    keep = settings.claude_result_ttl + IDEMPOTENCY_EXTRA_S
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        if conn.set(key, job_id, nx=True, ex=keep):
            return None
        raw = conn.get(key)
        if not isinstance(raw, bytes):
            continue  # the key expired between the two calls: try to win it
        owner = raw.decode()
        try:
            return Job.fetch(owner, connection=conn)
        except NoSuchJobError:
            pass
        if time.monotonic() >= deadline:
            if conn.eval(_TAKE_OVER, 1, key, owner, job_id, keep):
                return None
            deadline = time.monotonic() + CLAIM_WAIT_S  # someone else took it over: wait for theirs
        time.sleep(0.02)


def _describe(spec: JobSpec) -> str:
    first_line = spec.prompt.strip().splitlines()[0] if spec.prompt.strip() else ""
    return f"claude[{spec.engine}]: {first_line[:80]}"
