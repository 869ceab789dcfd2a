"""The guard every Claude job runs inside, and the job function the queue runs.

``guarded`` is what makes one job a good citizen of the fleet:

1. the gate is closed and this worker does not hold the probe: put the job back at the front
   of the queue without calling Claude and without spending an attempt;
2. otherwise run it, and tell the gate what happened (a typed error closes it for all);
3. decide the job's own fate from its budgets: back behind the gate, a short retry, or a
   final failure whose text says what to do.

Users' own RQ job functions get the same handling with ``@claude_job``::

    from app.fleet.job import claude_job

    @claude_job
    def summarise(path: str) -> str:
        return run_claude(RunRequest(prompt=...), get_settings()).text
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError
from rq import Retry, get_current_job
from rq.job import Job

from app.claude.runner import run_claude
from app.errors import (
    SETUP_COMMAND,
    ClaudeError,
    FleetBlockingError,
    JobFailed,
    PermanentJobError,
)
from app.fleet import attempts, stats
from app.fleet.gate import Gate
from app.jobs import policy
from app.jobs.spec import JobSpec
from app.jobs.workspace import job_workspace
from app.settings import Settings, get_settings

log = logging.getLogger("app.job")

P = ParamSpec("P")
T = TypeVar("T")

#: returned ``Retry`` objects never hit RQ's own limit: our budgets decide
UNLIMITED = 10**9


def requeue_command(job_id: str) -> str:
    return f"claude-workers jobs requeue {job_id}"


def _back_of_the_line(job: Job, *, front: bool) -> Retry:
    job.enqueue_at_front_on_retry = front
    return Retry(max=UNLIMITED, interval=0, enqueue_at_front=front)


def _final_failure(job: Job, error: ClaudeError, reason: str) -> JobFailed:
    fix = error.hint or ""
    if error.state in ("auth_required", "billing_required") and SETUP_COMMAND not in fix:
        fix = f"Log in once for the fleet: {SETUP_COMMAND}"
    lines = [
        f"Job {job.id} failed: {reason}.",
        f"Last error ({type(error).__name__}, state {error.state}): {error.message}",
    ]
    if fix:
        lines.append(f"To fix: {fix}")
    lines.append(f"Then requeue it: {requeue_command(job.id)}")
    return JobFailed("\n".join(lines))


def guarded(call: Callable[[], T], settings: Settings | None = None) -> T | Retry:
    """Run ``call`` under the fleet policy. Must run inside an RQ job."""
    job = get_current_job()
    if job is None:
        return call()
    settings = settings or get_settings()
    gate = Gate.of(job.connection, settings)
    keys = gate.keys
    state = gate.read()
    probe = False
    if not state.is_open:
        holder = gate.probe_holder()
        if holder is None or holder != job.worker_name:
            attempts.record_deferral(job)
            stats.record(job.connection, keys, "deferrals")
            log.info("job %s deferred: fleet is %s (waits without spending an attempt)", job.id, state.state)
            return _back_of_the_line(job, front=True)
        probe = True
        log.info("job %s is the probe for %s", job.id, state.state)

    attempt = attempts.start_attempt(job, probe=probe)
    started = attempt["started_at"]

    def ended(outcome: str, message: str | None = None, cost: float | None = None) -> None:
        attempts.finish_attempt(job, attempt, outcome, message)
        stats.record_attempt(job.connection, keys, outcome, time.time() - started, cost)

    try:
        value = call()
    except FleetBlockingError as error:
        gate.report_failure(error, attempt_started_at=started, probe=probe)
        ended(error.state, error.message)
        budget = attempts.budget_of(error.state)
        spent = attempts.spend(job, budget)
        limit = attempts.budget_limit(budget, settings)
        if spent >= limit:
            stats.record(job.connection, keys, "failed")
            raise _final_failure(job, error, f"{spent} attempts ended in {error.state} (limit {limit})") from None
        stats.record(job.connection, keys, f"retries:{error.state}")
        log.info(
            "job %s: %s (attempt %d, %s budget %d/%d): waits behind the gate",
            job.id,
            error.state,
            attempt["n"],
            budget,
            spent,
            limit,
        )
        # a failed probe moves to the back so the next probe uses another job's budget
        return _back_of_the_line(job, front=not probe)
    except PermanentJobError as error:
        ended("failed", error.message)
        stats.record(job.connection, keys, "failed")
        log.warning("job %s failed for good: %s", job.id, error.message)
        raise _final_failure(job, error, "Claude cannot do this job as it is specified") from None
    except ClaudeError as error:
        ended("error", error.message)
        spent = attempts.spend(job, "job")
        limit = attempts.budget_limit("job", settings)
        if spent >= limit:
            stats.record(job.connection, keys, "failed")
            raise _final_failure(job, error, f"{spent} attempts failed (limit {limit})") from None
        delays = settings.job_retry_delays
        delay = delays[min(spent - 1, len(delays) - 1)]
        log.info("job %s: %s; retry %d/%d in %ds", job.id, type(error).__name__, spent, limit - 1, delay)
        stats.record(job.connection, keys, "retries:error")
        job.enqueue_at_front_on_retry = False
        return Retry(max=UNLIMITED, interval=delay)
    except Exception as error:  # a bug or an OS error: record it, then let RQ's failure handling run
        ended("crashed", f"{type(error).__name__}: {error}")
        raise
    gate.report_success(attempt_started_at=started, probe=probe, was_open=state.is_open)
    cost = value.get("cost_usd") if isinstance(value, dict) else None
    ended("ok", cost=cost if isinstance(cost, int | float) else None)
    log.info(
        "job %s finished: ok in %.1fs%s",
        job.id,
        time.time() - started,
        f", ${cost:.6f}" if isinstance(cost, int | float) else "",
    )
    return value


def claude_job(func: Callable[P, T]) -> Callable[P, T | Retry]:
    """Decorate your own RQ job function so it obeys the fleet gate and the retry budgets."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | Retry:
        return guarded(lambda: func(*args, **kwargs))

    return wrapper


def run_claude_job(spec: dict[str, Any]) -> dict[str, Any] | Retry:
    """The function the queue runs for a submitted job spec."""
    settings = get_settings()
    job = get_current_job()
    try:
        parsed = JobSpec.model_validate(spec)
    except ValidationError as exc:
        where = job.id if job is not None else "this job"
        raise JobFailed(f"Job {where} has an invalid spec and cannot run: {exc.errors()[0]['msg']}") from None
    job_id = job.id if job is not None else f"local-{time.time_ns()}"
    try:
        policy.check(parsed, settings)  # whatever reached Redis without passing the API
    except policy.PolicyViolation as exc:
        raise JobFailed(f"Job {job_id} cannot run: {exc}") from None

    def call() -> dict[str, Any]:
        with job_workspace(settings.workspace_root, job_id, parsed.workspace, parsed.keep_workspace) as cwd:
            return run_claude(parsed.to_run_request(cwd), settings).to_dict()

    return guarded(call, settings)


def final_failures_are_final(job: Job, exc_type: type[BaseException], exc_value: BaseException, tb: Any) -> bool:
    """RQ exception handler: a job that gave up is not re-run by the crash safety net."""
    if isinstance(exc_type, type) and issubclass(exc_type, JobFailed):
        job.retries_left = 0
    return True
