"""A job's attempt history and retry budgets, kept in ``job.meta`` so they survive requeues.

Delivery is at least once: a worker killed mid-job leaves an attempt without an end, and the
re-run adds another. Both stay in the history, so a duplicate run is visible, never silent.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rq.job import Job

from app.settings import Settings
from app.states import State

#: which budget an outcome spends
BUDGET_OF_STATE: dict[str, str] = {
    State.AUTH_REQUIRED: "auth",
    State.BILLING_REQUIRED: "auth",
    State.QUOTA_EXCEEDED: "quota",
}
MAX_KEPT_ATTEMPTS = 200


def budget_of(state: str) -> str:
    return BUDGET_OF_STATE.get(state, "job")


def budget_limit(budget: str, settings: Settings) -> int:
    return {
        "auth": settings.claude_auth_max_retries,
        "quota": settings.claude_quota_max_retries,
        "job": settings.claude_job_max_retries + 1,  # the first attempt is not a retry
    }[budget]


def attempts(job: Job) -> list[dict[str, Any]]:
    return list(job.meta.get("attempts", []))


def start_attempt(job: Job, *, probe: bool) -> dict[str, Any]:
    history = attempts(job)
    attempt = {
        "n": len(history) + 1,
        "started_at": time.time(),
        "ended_at": None,
        "outcome": "running",
        "probe": probe,
        "worker": job.worker_name or os.environ.get("RQ_WORKER_ID"),
        "message": None,
    }
    # an attempt still "running" here was cut off (worker killed): say so, keep it
    for old in history:
        if old.get("outcome") == "running":
            old["outcome"] = "interrupted"
    history.append(attempt)
    job.meta["attempts"] = history[-MAX_KEPT_ATTEMPTS:]
    # if this attempt dies with its worker, recovery puts the job at the front of the queue,
    # not behind everything queued since: it has waited its turn once already (one write with
    # the meta: this is every job's path)
    job.enqueue_at_front_on_retry = True
    job.connection.hset(job.key, mapping={"meta": job._serialize_meta(), "enqueue_at_front_on_retry": 1})
    return attempt


def finish_attempt(job: Job, attempt: dict[str, Any], outcome: str, message: str | None = None) -> None:
    attempt.update(ended_at=time.time(), outcome=outcome, message=(message or None) and message[:1000])
    _store(job, attempt)


def note(job: Job, **fields: Any) -> None:
    """Add ``fields`` to the job's current (latest) attempt, at once: a session id must survive a SIGKILL."""
    history = attempts(job)
    if history:
        history[-1].update(fields)
        _store(job, history[-1])


def current(job: Job) -> dict[str, Any] | None:
    history = attempts(job)
    return history[-1] if history else None


def _store(job: Job, attempt: dict[str, Any]) -> None:
    history = attempts(job)
    for i, old in enumerate(history):
        if old.get("n") == attempt["n"] and old.get("started_at") == attempt["started_at"]:
            history[i] = {**old, **attempt}  # what ``note`` added meanwhile stays
    if sum(1 for a in history if a.get("outcome") == "ok") > 1:
        job.meta["duplicate_runs"] = True
    job.meta["attempts"] = history
    job.save_meta()


def spent(job: Job) -> dict[str, int]:
    """The attempts each budget has spent (auth, quota, job)."""
    return {k: int(v) for k, v in dict(job.meta.get("spent", {})).items()}


def set_spent(job: Job, budget: str, count: int) -> None:
    job.meta["spent"] = {**spent(job), budget: count}
    job.save_meta()


def record_deferral(job: Job) -> None:
    job.meta["deferrals"] = int(job.meta.get("deferrals", 0)) + 1
    job.save_meta()
