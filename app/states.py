"""The fleet's state words: the public names of what the fleet is doing (health, status, metrics)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    READY = "ready"
    AUTH_REQUIRED = "auth_required"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    BILLING_REQUIRED = "billing_required"
    BUDGET_EXCEEDED = "budget_exceeded"  # the fleet's own spending cap (CLAUDE_FLEET_*_BUDGET_USD)

    @property
    def exit_code(self) -> int:
        """The exit code of `claude-workers run`, `auth status` and `auth test` in this state."""
        return EXIT_CODES[self]

    @property
    def needs_a_login(self) -> bool:
        """Waiting on the operator (a login, credits): new credentials make a probe due at once."""
        return self in (State.AUTH_REQUIRED, State.BILLING_REQUIRED)


#: the state words in the order documented in docs/cli.md, with their exit codes ("error": any other failure)
EXIT_CODES: dict[str, int] = {
    State.READY: 0,
    "error": 1,
    State.AUTH_REQUIRED: 10,
    State.QUOTA_EXCEEDED: 11,
    State.RATE_LIMITED: 12,
    State.OVERLOADED: 13,
    State.BILLING_REQUIRED: 14,
    State.BUDGET_EXCEEDED: 15,
}


#: a job's public statuses (RQ's, plus ``waiting``: queued behind the closed gate)
JOB_STATUSES = ("queued", "scheduled", "waiting", "started", "finished", "failed", "canceled")
#: the statuses after which a job does nothing more (until someone requeues it)
ENDED_STATUSES = ("finished", "failed", "canceled")


def exit_code(state: str) -> int:
    return EXIT_CODES.get(state, 1)
