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
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from rq import Retry, get_current_job
from rq.job import Job

from app.errors import (
    SETUP_COMMAND,
    ClaudeError,
    FleetBlockingError,
    JobFailed,
    PermanentJobError,
)
from app.fleet import attempts, clients, events, fairness, spending_cap, stats
from app.fleet.decision import Decision, Fate, decide
from app.fleet.gate import Gate
from app.fleet.keys import Keys
from app.settings import Settings, get_settings
from app.states import State

log = logging.getLogger("app.job")

P = ParamSpec("P")
T = TypeVar("T")

#: returned ``Retry`` objects never hit RQ's own limit: our budgets decide
UNLIMITED = 10**9


class HideSentinelRetryCounts(logging.Filter):
    """Drops RQ's "enqueued for retry, 999999999 remaining" lines: the count is our sentinel, not a budget.

    The guard logs its own line for every deferral and retry, with the reason; RQ's adds only a
    number that means nothing to a reader.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "for retry" in str(record.msg) and record.args and isinstance(record.args, tuple):
            remaining = record.args[-1]
            return not (isinstance(remaining, int) and remaining > UNLIMITED // 2)
        return True


def requeue_command(job_id: str) -> str:
    return f"claude-workers jobs requeue {job_id}"


def _back_of_the_line(job: Job, *, front: bool) -> Retry:
    job.enqueue_at_front_on_retry = front
    return Retry(max=UNLIMITED, interval=0, enqueue_at_front=front)


def _final_failure(job: Job, error: ClaudeError, reason: str) -> JobFailed:
    fix = error.hint or ""
    if error.state in (State.AUTH_REQUIRED, State.BILLING_REQUIRED) and SETUP_COMMAND not in fix:
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
            events.emit_for(job, "job.waiting", state=state.state, until=state.until)
            log.info("job %s deferred: fleet is %s (waits without spending an attempt)", job.id, state.state)
            return _back_of_the_line(job, front=True)
        probe = True
        log.info("job %s is the probe for %s", job.id, state.state)

    client = clients.owner_of(job)
    if client is not None:
        held = clients.hold(job.connection, keys, client, job.id, settings.timezone)
        if held is not None:  # its client's budget or max_running: wait, spending nothing
            reason, delay = held
            events.emit_for(job, "job.waiting", reason=reason, delay=delay)
            log.info("job %s waits %ds: %s", job.id, delay, reason)
            job.enqueue_at_front_on_retry = False
            return Retry(max=UNLIMITED, interval=delay)

    capped = spending_cap.over(job.connection, keys, settings)
    if capped is not None:  # the fleet's own cap: the gate closes for everyone, this job waits behind it
        gate.report_failure(capped, attempt_started_at=time.time(), probe=probe)
        attempts.record_deferral(job)
        events.emit_for(job, "job.waiting", state=capped.state, until=capped.renews_at)
        log.info("job %s deferred: %s", job.id, capped.message)
        return _back_of_the_line(job, front=True)

    fairness.taken(job.connection, keys, job.id)
    attempt = attempts.start_attempt(job, probe=probe)
    started = attempt["started_at"]
    events.emit_for(job, "job.started", attempt=attempt["n"], probe=probe, worker=attempt["worker"])

    def ended(outcome: str, message: str | None = None, cost: float | None = None) -> None:
        attempts.finish_attempt(job, attempt, outcome, message)
        if client is not None:
            clients.stopped(job.connection, keys, client, job.id)
        stats.record_attempt(
            job.connection,
            keys,
            outcome,
            time.time() - started,
            cost,
            worker=job.worker_name,
            zone=settings.timezone,
            client=client,
        )

    try:
        value = call()
    except ClaudeError as error:
        if isinstance(error, FleetBlockingError):
            gate.report_failure(error, attempt_started_at=started, probe=probe)
        outcome = error.state if isinstance(error, FleetBlockingError) else "error"
        ended("failed" if isinstance(error, PermanentJobError) else outcome, error.message)
        return _carry_out(job, keys, error, decide(error, attempts.spent(job), settings, probe=probe), attempt["n"])
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


def _carry_out(job: Job, keys: Keys, error: ClaudeError, decision: Decision, attempt_n: int) -> Retry:
    """Do what ``decision`` says: persist the spent budget, then wait, retry or fail."""
    if decision.budget is not None:
        attempts.set_spent(job, decision.budget, decision.spent)
    if decision.fate is Fate.FAIL:
        stats.record(job.connection, keys, "failed")
        log.warning("job %s failed for good: %s", job.id, error.message)
        failure = _final_failure(job, error, decision.reason)
        job.meta["error"] = failure.message  # what `jobs show` and GET /jobs/{id} say
        job.save_meta()
        raise failure from None
    if decision.fate is Fate.WAIT:
        stats.record(job.connection, keys, f"retries:{error.state}")
        events.emit_for(job, "job.waiting", state=error.state, attempt=attempt_n)
        log.info(
            "job %s: %s (attempt %d, %s budget %d/%d): waits behind the gate",
            job.id,
            error.state,
            attempt_n,
            decision.budget,
            decision.spent,
            decision.limit,
        )
        return _back_of_the_line(job, front=decision.front)
    stats.record(job.connection, keys, "retries:error")
    events.emit_for(job, "job.retried", attempt=attempt_n, reason=type(error).__name__, delay=decision.delay)
    log.info(
        "job %s: %s; retry %d/%d in %ds",
        job.id,
        type(error).__name__,
        decision.spent,
        decision.limit - 1,
        decision.delay,
    )
    job.enqueue_at_front_on_retry = False
    return Retry(max=UNLIMITED, interval=decision.delay)


def claude_job(func: Callable[P, T]) -> Callable[P, T | Retry]:
    """Decorate your own RQ job function so it obeys the fleet gate and the retry budgets."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | Retry:
        return guarded(lambda: func(*args, **kwargs))

    return wrapper


def run_claude_job(spec: dict[str, Any]) -> Any:
    """Jobs queued by earlier versions name this function; the job function is ``app.jobs.run``'s.

    Imported by name at call time: the queue layer (``app.jobs``) sits above this one.
    """
    return importlib.import_module("app.jobs.run").run_claude_job(spec)


def final_failures_are_final(job: Job, exc_type: type[BaseException], exc_value: BaseException, tb: Any) -> bool:
    """RQ exception handler: a job that gave up is not re-run by the crash safety net."""
    if isinstance(exc_type, type) and issubclass(exc_type, JobFailed):
        job.retries_left = 0
    return True
