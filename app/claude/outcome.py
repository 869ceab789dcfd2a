"""One run's outcome as the public JSON object and exit code (``claude-workers run --json``)."""

from __future__ import annotations

from typing import Any

from app.claude.request import ClaudeResult
from app.errors import ClaudeError, UsageLimitReached
from app.states import EXIT_CODES, exit_code

__all__ = ["EXIT_CODES", "exit_code", "outcome"]


def outcome(result: ClaudeResult | None = None, error: ClaudeError | None = None) -> dict[str, Any]:
    if result is not None:
        # `result` is the same object as a finished job's (GET /jobs/{id}); the rest are shortcuts
        return {
            "state": "ready",
            "resets_at": None,
            "limit_type": None,
            "result": result.to_dict(),
            "error": None,
            "cost_usd": result.cost_usd,
            "session_id": result.session_id,
        }
    assert error is not None
    return {
        "state": error.state,
        "resets_at": error.resets_at if isinstance(error, UsageLimitReached) else None,
        "limit_type": error.limit_type if isinstance(error, UsageLimitReached) else None,
        "result": None,
        "error": error.to_dict(),
        "cost_usd": None,
        "session_id": None,
    }
