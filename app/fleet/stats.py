"""Counters in Redis, fleet-wide and per worker (job processes are short-lived: nothing is kept in memory).

The fleet-wide hash holds attempts by outcome, the run-duration histogram, cost, retries and
deferrals. A worker's own hash holds its attempts by outcome, so ``/metrics`` on a worker can say
what that worker did (``app.metrics``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import redis
from redis import Redis

from app.fleet.keys import Keys

#: upper bounds (seconds) of the run-duration histogram: a one-line answer to a long agent run
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
WORKER_STATS_TTL_S = 7 * 24 * 3600


def bucket_field(seconds: float) -> str:
    """The hash field of the histogram bucket ``seconds`` falls in (counts are per bucket, not cumulative)."""
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return f"duration_le:{bound:g}"
    return "duration_le:+Inf"


def record_attempt(
    conn: Redis,
    keys: Keys,
    outcome: str,
    seconds: float,
    cost_usd: float | None,
    worker: str | None = None,
    zone: tzinfo = UTC,
    client: str | None = None,
) -> None:
    """Count one attempt (its cost on today's date in ``zone``); never lets a Redis hiccup fail the job."""
    with contextlib.suppress(redis.RedisError), conn.pipeline(transaction=False) as pipe:
        key = keys.stats
        pipe.hincrby(key, f"attempts:{outcome}", 1)
        pipe.hincrbyfloat(key, "duration_seconds_sum", seconds)
        pipe.hincrby(key, "duration_seconds_count", 1)
        pipe.hincrby(key, bucket_field(seconds), 1)
        if cost_usd:
            day = datetime.now(zone).date().isoformat()
            pipe.hincrbyfloat(key, "cost_usd_sum", cost_usd)
            pipe.hincrbyfloat(keys.spend_by_day, day, cost_usd)
            if client:
                pipe.hincrbyfloat(keys.client_spend(client), day, cost_usd)
        if worker:
            own = keys.worker_stats(worker)
            pipe.hincrby(own, f"attempts:{outcome}", 1)
            pipe.expire(own, WORKER_STATS_TTL_S)
        pipe.execute()


def record(conn: Redis, keys: Keys, field: str, amount: int = 1) -> None:
    with contextlib.suppress(redis.RedisError):
        conn.hincrby(keys.stats, field, amount)


def read(conn: Redis, keys: Keys) -> dict[str, float]:
    raw = conn.hgetall(keys.stats)
    return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]


def read_worker(conn: Redis, keys: Keys, worker: str) -> dict[str, float]:
    raw = conn.hgetall(keys.worker_stats(worker))
    return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]


def histogram(counters: dict[str, float]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs of the duration histogram, ending with +Inf."""
    running = 0.0
    buckets = []
    for bound in (*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"):
        running += counters.get(f"duration_le:{bound}", 0)
        buckets.append((bound, running))
    # attempts counted before the histogram existed are in the count but in no bucket
    buckets[-1] = ("+Inf", max(running, counters.get("duration_seconds_count", 0)))
    return buckets


def spend(conn: Redis, by_day: str, zone: tzinfo, now: datetime | None = None) -> dict[str, float]:
    """US dollars spent today, this week (from Monday) and this month, in ``zone``, from the hash ``by_day``
    (the fleet's ``Keys.spend_by_day`` or a client's ``Keys.client_spend``)."""
    today = (now or datetime.now(zone)).astimezone(zone).date()
    days = sorted(
        {today - timedelta(days=n) for n in range(today.weekday() + 1)}
        | {today.replace(day=d) for d in range(1, today.day + 1)}
    )
    raw: list[bytes | None] = conn.hmget(by_day, [d.isoformat() for d in days])  # type: ignore[assignment]
    amount = {d: float(v) if v is not None else 0.0 for d, v in zip(days, raw, strict=True)}
    week_start = today - timedelta(days=today.weekday())
    return {
        "today_usd": round(amount[today], 6),
        "this_week_usd": round(sum(v for d, v in amount.items() if d >= week_start), 6),
        "this_month_usd": round(sum(v for d, v in amount.items() if d.month == today.month), 6),
    }


@dataclass(frozen=True)
class Overspent:
    """A daily or monthly budget that is spent, and when it renews (the period's turn in its zone)."""

    period: str  # "daily" or "monthly"
    spent: float
    budget: float
    renews: datetime


def overspent(
    spent: dict[str, float], daily: float | None, monthly: float | None, moment: datetime
) -> Overspent | None:
    """Which of two budgets ``spent`` (from :func:`spend` at ``moment``) has used up, the day's first;
    None when neither is set or both have room. The fleet's cap and each client's budgets use it."""
    if daily is not None and spent["today_usd"] >= daily:
        turn = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), moment.tzinfo)
        return Overspent("daily", spent["today_usd"], daily, turn)
    if monthly is not None and spent["this_month_usd"] >= monthly:
        first = date(moment.year + (moment.month == 12), moment.month % 12 + 1, 1)
        turn = datetime.combine(first, datetime.min.time(), moment.tzinfo)
        return Overspent("monthly", spent["this_month_usd"], monthly, turn)
    return None
