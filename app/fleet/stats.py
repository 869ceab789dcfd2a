"""Fleet-wide counters in Redis (job processes are short-lived, so nothing is kept in memory).

``/metrics`` on any worker reads them; they are the same on every worker.
"""

from __future__ import annotations

import contextlib

import redis
from redis import Redis

from app.fleet.keys import Keys


def record_attempt(conn: Redis, keys: Keys, outcome: str, seconds: float, cost_usd: float | None) -> None:
    """Count one attempt; never lets a Redis hiccup fail the job it describes."""
    with contextlib.suppress(redis.RedisError), conn.pipeline(transaction=False) as pipe:
        key = keys.stats
        pipe.hincrby(key, f"attempts:{outcome}", 1)
        pipe.hincrbyfloat(key, "duration_seconds_sum", seconds)
        pipe.hincrby(key, "duration_seconds_count", 1)
        if cost_usd:
            pipe.hincrbyfloat(key, "cost_usd_sum", cost_usd)
        pipe.execute()


def record(conn: Redis, keys: Keys, field: str, amount: int = 1) -> None:
    with contextlib.suppress(redis.RedisError):
        conn.hincrby(keys.stats, field, amount)


def read(conn: Redis, keys: Keys) -> dict[str, float]:
    raw = conn.hgetall(keys.stats)
    return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
