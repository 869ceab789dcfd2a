"""Job functions the test workers import by dotted path (users' own RQ jobs, as documented)."""

from __future__ import annotations

import time

from redis import Redis
from rq import get_current_job

from app.errors import UsageLimitReached
from app.fleet.job import claude_job


@claude_job
def hits_the_wall_until(resets_at: float, counter_key: str) -> str:
    """Records the time of each real call in Redis; raises the usage limit until ``resets_at``."""
    job = get_current_job()
    assert job is not None
    conn: Redis = job.connection
    conn.rpush(counter_key, time.time())
    if time.time() < resets_at:
        raise UsageLimitReached("You've hit your 5-hour limit", resets_at=resets_at, limit_type="five_hour")
    return "done"
