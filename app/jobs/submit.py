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

from app.fleet.job import run_claude_job
from app.fleet.keys import Keys
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


def enqueue(conn: Redis, settings: Settings, spec: JobSpec) -> tuple[Job, bool]:
    """Enqueue ``spec``. Returns the job and whether it is new (False: the idempotency key matched)."""
    keys = Keys(settings.claude_workers_prefix)
    job_id = uuid.uuid4().hex
    if spec.idempotency_key:
        idem = keys.idempotency(spec.idempotency_key)
        keep = settings.claude_result_ttl + IDEMPOTENCY_EXTRA_S
        if not conn.set(idem, job_id, nx=True, ex=keep):
            existing = conn.get(idem)
            if isinstance(existing, bytes):
                try:
                    return Job.fetch(existing.decode(), connection=conn), False
                except NoSuchJobError:
                    conn.set(idem, job_id, ex=keep)  # the old job expired; this key starts afresh
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
        at_front=spec.priority == "high",
        description=_describe(spec),
        meta={"submitted_at": time.time(), "idempotency_key": spec.idempotency_key, "metadata": spec.metadata},
    )
    return job, True


def _describe(spec: JobSpec) -> str:
    first_line = spec.prompt.strip().splitlines()[0] if spec.prompt.strip() else ""
    return f"claude[{spec.engine}]: {first_line[:80]}"
