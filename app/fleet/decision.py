"""What happens to a job whose attempt failed: a pure function of the error, the attempts spent
and the settings. The guard (``app.fleet.job``) only carries the decision out.

* A fleet-blocking error (login, usage limit, rate limit, overload, billing) spends the job's
  budget for that kind (auth, quota, or job); within it the job **waits behind the gate**, at
  the front of the queue, unless it was the probe, which goes to the back so the next probe
  spends another job's budget.
* A permanent error (max turns, budget, an invalid request) **fails** the job at once.
* Any other error spends the job budget and **retries** after ``CLAUDE_JOB_RETRY_DELAYS``.
* A budget used up **fails** the job, saying how many attempts ended how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.errors import ClaudeError, FleetBlockingError, PermanentJobError
from app.fleet.attempts import budget_limit, budget_of
from app.settings import Settings


class Fate(StrEnum):
    WAIT = "wait"  # back on the queue, behind the closed gate, no delay of its own
    RETRY = "retry"  # scheduled again after ``delay`` seconds
    FAIL = "fail"  # failed for good, with ``reason``


@dataclass(frozen=True)
class Decision:
    fate: Fate
    budget: str | None = None  # the budget the attempt spent (None: it spent none)
    spent: int = 0  # that budget's attempts, this one included
    limit: int = 0
    delay: int = 0  # RETRY
    front: bool = False  # WAIT: at the front of the queue
    reason: str = ""  # FAIL


def decide(error: ClaudeError, spent: Mapping[str, int], settings: Settings, *, probe: bool) -> Decision:
    """The fate of a job whose attempt ended in ``error``; ``spent`` is its budgets before it."""
    if isinstance(error, PermanentJobError):
        return Decision(Fate.FAIL, reason="Claude cannot do this job as it is specified")
    budget = budget_of(error.state) if isinstance(error, FleetBlockingError) else "job"
    used = int(spent.get(budget, 0)) + 1
    limit = budget_limit(budget, settings)
    if used >= limit:
        if isinstance(error, FleetBlockingError):
            reason = f"{used} attempts ended in {error.state} (limit {limit})"
        else:
            reason = f"{used} attempts failed (limit {limit})"
        return Decision(Fate.FAIL, budget, used, limit, reason=reason)
    if isinstance(error, FleetBlockingError):
        return Decision(Fate.WAIT, budget, used, limit, front=not probe)
    delays = settings.job_retry_delays
    return Decision(Fate.RETRY, budget, used, limit, delay=delays[min(used - 1, len(delays) - 1)])
