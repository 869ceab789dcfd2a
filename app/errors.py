"""Every error claude-workers raises, in one tree.

::

    ClaudeWorkersError                 shown to the user: says what happened and what to do next
    ├── ConfigError                    bad settings, a missing binary, an unreadable file
    │   └── NoFleet                    no REDIS_URL and no local fleet running: nothing to talk to
    ├── RedisUnavailable               REDIS_URL does not answer
    ├── JobFailed                      a queued job gave up: says why, how to fix, how to requeue
    └── ClaudeError                    one run of Claude did not succeed
        ├── FleetBlockingError         the account cannot work right now: closes the fleet gate
        │   ├── AuthRequired           no credential, rejected, expired, refresh failed
        │   ├── UsageLimitReached      subscription limit; carries resets_at and limit_type
        │   ├── RateLimited            server-side 429; carries retry_after
        │   ├── Overloaded             529; carries retry_after
        │   └── BillingRequired        credit balance too low, org out of usage
        ├── TransientError             worth retrying this job after a short backoff
        │   ├── ClaudeTimeout          our own wall-clock limit killed the run
        │   └── ClaudeServerError      500s, connection failures, a run with no result
        └── PermanentJobError          retrying the same job cannot help
            ├── MaxTurnsReached
            ├── BudgetExhausted
            └── InvalidRequest

The retry policy decides by type alone: a ``FleetBlockingError`` pauses every worker, a
``TransientError`` retries the job, a ``PermanentJobError`` fails it at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.states import State

SETUP_COMMAND = "python -m app.claude_auth_manager setup"

__all__ = [
    "SETUP_COMMAND",
    "AuthRequired",
    "BillingRequired",
    "BudgetExhausted",
    "ClaudeError",
    "ClaudeServerError",
    "ClaudeTimeout",
    "ClaudeWorkersError",
    "ConfigError",
    "FleetBlockingError",
    "InvalidRequest",
    "JobFailed",
    "MaxTurnsReached",
    "Overloaded",
    "PermanentJobError",
    "RateLimited",
    "RedisUnavailable",
    "TransientError",
    "UsageLimitReached",
]


class ClaudeWorkersError(Exception):
    """Base of every error this package raises on purpose. Its text is shown to the user."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(ClaudeWorkersError):
    """A setting, file or binary is wrong or missing; nothing will work until it is fixed."""


class NoFleet(ConfigError):
    """No REDIS_URL and no local fleet running: a command that needs a fleet has none to talk to."""

    hint = (
        "Start a local fleet in another terminal: claude-workers up\n"
        "or point at a running one: export REDIS_URL=redis://HOST:6379/0"
    )


class RedisUnavailable(ClaudeWorkersError):
    """Redis at REDIS_URL did not answer."""


class JobFailed(ClaudeWorkersError):
    """A queued job stopped retrying. Its text is what ``jobs show`` and the failed registry show."""


class ClaudeError(ClaudeWorkersError):
    """One run of Claude ended without a usable result."""

    #: the fleet state word this error stands for ("error" for job-level errors)
    state: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        detail: str | None = None,
        api_status: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.detail = detail
        self.api_status = api_status

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "state": self.state,
            "message": self.message,
            "hint": self.hint or None,
            "api_status": self.api_status,
        }


class FleetBlockingError(ClaudeError):
    """The account cannot work right now; no other job will succeed either."""

    #: seconds the fleet should wait before trying again, when Claude said so
    retry_after: float | None = None


class AuthRequired(FleetBlockingError):
    """No credential, or Claude rejected it (invalid, revoked, expired, refresh failed)."""

    state = State.AUTH_REQUIRED
    hint = f"Log in once for the whole fleet: {SETUP_COMMAND}  (or: claude-workers auth setup)"


class UsageLimitReached(FleetBlockingError):
    """The subscription's usage limit is reached. ``resets_at`` is epoch seconds, when known."""

    state = State.QUOTA_EXCEEDED

    def __init__(
        self,
        message: str,
        *,
        resets_at: float | None = None,
        limit_type: str | None = None,
        **kw: Any,
    ) -> None:
        kw.setdefault(
            "hint",
            "Jobs wait and resume by themselves when the limit resets; nothing needs to be done.",
        )
        super().__init__(message, **kw)
        self.resets_at = resets_at
        self.limit_type = limit_type

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "resets_at": self.resets_at, "limit_type": self.limit_type}


class RateLimited(FleetBlockingError):
    """A server-side rate limit (429 without a usage-limit rejection)."""

    state = State.RATE_LIMITED
    hint = "Jobs back off together and resume by themselves."

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after}


class Overloaded(RateLimited):
    """Anthropic answered 529 Overloaded."""

    state = State.OVERLOADED


class FleetBudgetExceeded(FleetBlockingError):
    """The fleet spent its own daily or monthly cap; ``renews_at`` is when that period turns."""

    state = State.BUDGET_EXCEEDED
    hint = (
        "Jobs resume by themselves when the period turns. To resume now, raise CLAUDE_FLEET_DAILY_BUDGET_USD "
        "or CLAUDE_FLEET_MONTHLY_BUDGET_USD and restart the workers."
    )

    def __init__(self, message: str, *, renews_at: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.renews_at = renews_at


class BillingRequired(FleetBlockingError):
    """Credit balance too low, or the organisation is out of usage."""

    state = State.BILLING_REQUIRED
    hint = (
        "Add credits or raise the usage allowance in the Anthropic console, then run: "
        "python -m app.claude_auth_manager test"
    )


class TransientError(ClaudeError):
    """Worth retrying this job after a short backoff."""


class ClaudeTimeout(TransientError):
    """The run went over its time limit and its whole process group was killed."""

    hint = "Raise the job's timeout (CLAUDE_JOB_TIMEOUT, or timeout in the job spec) if the work needs longer."


class ClaudeServerError(TransientError):
    """A server error, a connection failure, or a run that ended without a result."""


class PermanentJobError(ClaudeError):
    """Retrying the same job cannot succeed: the job itself must change."""


class MaxTurnsReached(PermanentJobError):
    """The agent used up the job's max_turns."""

    hint = "Raise max_turns for this job and requeue it."


class BudgetExhausted(PermanentJobError):
    """The job reached its max_budget_usd."""

    hint = "Raise max_budget_usd for this job and requeue it."


class InvalidRequest(PermanentJobError):
    """Claude refused the request as invalid (400), or the job's options cannot work."""
