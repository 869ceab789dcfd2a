"""What a client may queue: its own tools list, its budgets, its limit of open jobs.

Checked when a client's job is submitted, before anything is queued. A client past a budget gets
HTTP 429 with the time the budget renews; past its limit of open jobs, 429 until some end.
"""

from __future__ import annotations

from redis import Redis

from app.errors import ClaudeWorkersError
from app.fleet import clients, sessions
from app.fleet.clients import Client
from app.fleet.keys import Keys
from app.jobs.policy import PolicyViolation
from app.jobs.spec import JobSpec
from app.settings import Settings


class OverLimit(ClaudeWorkersError):
    """The client is past a budget or its limit of open jobs (HTTP 429)."""

    def __init__(self, message: str, *, hint: str | None = None, retry_at: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_at = retry_at


class SessionNotYours(ClaudeWorkersError):
    """``resume_session_id`` names no session of this client's (HTTP 422)."""


def check_session(conn: Redis, keys: Keys, client: str, spec: JobSpec) -> None:
    """Refuse ``resume_session_id`` unless it names one of ``client``'s own sessions."""
    session = spec.resume_session_id
    if session is not None and not sessions.may_resume(conn, keys, session, client):
        # the same words whether the session is another client's or does not exist: ids do not leak
        raise SessionNotYours(
            f"resume_session_id: the client {client!r} has no Claude session {session} to resume.",
            hint="Resume a session_id from one of this client's own job results (GET /jobs/{id}).",
        )


def admit(conn: Redis, settings: Settings, client: Client, spec: JobSpec) -> None:
    """Refuse a job ``client`` may not queue now (raises PolicyViolation, SessionNotYours or OverLimit)."""
    keys = Keys(settings.claude_workers_prefix)
    check_session(conn, keys, client.name, spec)
    if client.allowed_tools is not None:
        for rule in spec.allowed_tools:
            if rule.split("(", 1)[0] not in client.allowed_tools:
                raise PolicyViolation(
                    f"The client {client.name!r} may not use the tool {rule!r}.",
                    hint=f"Its tools: {', '.join(client.allowed_tools) or 'none'}; the operator can change them: "
                    f"claude-workers clients update {client.name} --allowed-tools ...",
                )
    spent = clients.spend(conn, keys, client.name, settings.timezone)
    blocked = clients.budget_block(client, spent, settings.timezone)
    if blocked is not None:
        reason, renews = blocked
        raise OverLimit(
            f"The client {client.name!r} cannot queue more jobs: {reason}.",
            hint=f"Submit again after it renews, or the operator raises it: claude-workers clients update "
            f"{client.name} --daily-budget-usd ... --monthly-budget-usd ...",
            retry_at=renews,
        )


def over_open_limit(client: Client) -> OverLimit:
    return OverLimit(
        f"The client {client.name!r} has {client.max_queued} jobs that have not ended, its limit (max_queued).",
        hint=f"Submit again when some have ended, or the operator raises it: claude-workers clients update "
        f"{client.name} --max-queued N",
    )
