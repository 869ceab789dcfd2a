"""Job functions the benchmark workers import: an instant stand-in for Claude, plain and guarded.

``call_fake`` makes one real HTTP request to the fake Anthropic API (so every "Claude call" is
counted there) and raises the typed error the runner would raise.
"""

from __future__ import annotations

from app.errors import UsageLimitReached
from app.fleet.job import claude_job
from bench import plain_jobs


def noop() -> str:
    return "ok"


guarded_noop = claude_job(noop)


def call_fake(url: str, key: str = "sk-ant-bench") -> str:
    try:
        return plain_jobs.call_fake(url, key)
    except plain_jobs.UsageLimit as exc:
        reset = float(exc.args[0]) if exc.args and exc.args[0] else None
        raise UsageLimitReached("You've hit your 5-hour limit", resets_at=reset, limit_type="five_hour") from None


guarded_call_fake = claude_job(call_fake)
