"""Reading and changing jobs: the operations the CLI, the HTTP API and the client share.

A job's public status is RQ's, except that a queued job behind a closed fleet gate is
``waiting``. The public object is the same everywhere (``claude-workers jobs show --json``,
``GET /jobs/{id}``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from app.errors import ClaudeWorkersError
from app.fleet.state import FleetState
from app.jobs.submit import queue_for
from app.settings import Settings

PUBLIC_STATUSES = ("queued", "scheduled", "waiting", "started", "finished", "failed", "canceled")


class JobNotFound(ClaudeWorkersError):
    """No job has this id (it never existed, or its result expired)."""


class JobStateConflict(ClaudeWorkersError):
    """The job is not in a state that allows this operation."""


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def fetch(conn: Redis, job_id: str) -> Job:
    try:
        return Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        raise JobNotFound(f"No job {job_id!r}.", hint="List jobs with: claude-workers jobs list") from None


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


def job_view(job: Job, gate: FleetState | None = None) -> dict[str, Any]:
    """The public JSON object of one job."""
    status = public_status(job, gate)
    meta = job.meta or {}
    args = job.args or ()
    spec = args[0] if args and isinstance(args[0], dict) else {}
    view: dict[str, Any] = {
        "id": job.id,
        "status": status,
        "spec": spec,
        "metadata": meta.get("metadata") or spec.get("metadata") or {},
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
    return view


def queue_for_job(job: Job) -> Any:
    from rq import Queue

    return Queue(job.origin, connection=job.connection)


def _failure_text(job: Job) -> str:
    latest = job.latest_result()
    text = (latest.exc_string if latest is not None else None) or job.exc_info or "The job failed."
    # the last line of a traceback is the exception and its message; ours is the readable part
    marker = "app.errors.JobFailed: "
    if marker in text:
        return text.split(marker, 1)[1].strip()
    return text.strip().splitlines()[-1] if text.strip() else "The job failed."


def requeue(conn: Redis, settings: Settings, job_id: str) -> Job:
    """Put a failed (or canceled) job back on the queue with fresh budgets; its history stays."""
    job = fetch(conn, job_id)
    status = job.get_status()
    if status not in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        raise JobStateConflict(
            f"Job {job_id} is {public_status(job, None)}, not failed; only failed or canceled jobs are requeued."
        )
    job.meta["spent"] = {}
    job.meta.setdefault("requeued_at", []).append(time.time())
    job.save_meta()
    registry = FailedJobRegistry(queue=queue_for(conn, settings))
    try:
        registry.requeue(job)
    except InvalidJobOperation:  # canceled jobs are not in the failed registry
        queue_for(conn, settings)._enqueue_job(job)
    return fetch(conn, job_id)


def cancel(conn: Redis, job_id: str) -> Job:
    """Cancel a job that has not started (queued, waiting or scheduled)."""
    job = fetch(conn, job_id)
    status = job.get_status()
    if status not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        raise JobStateConflict(
            f"Job {job_id} is {public_status(job, None)}; only queued, waiting or scheduled jobs can be canceled."
        )
    job.cancel()
    return fetch(conn, job_id)
