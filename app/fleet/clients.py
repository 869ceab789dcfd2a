"""The teams, services and pipelines that share a fleet: each a client with its own API key and limits.

A key is shown once, when it is made, and only its SHA-256 is kept (keys are 256 random bits, so a
fast hash is enough: there is nothing to guess). Every request looks its key up in Redis, so a
revoked key is refused at once by every API process. What a client's jobs cost is added up per day
in the operator's time zone, which is what its daily and monthly budgets are checked against.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from redis import Redis
from rq.job import Job

from app.errors import ClaudeWorkersError
from app.fleet import stats
from app.fleet.keys import Keys

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
KEY_PREFIX = "cwk_"


class ClientNotFound(ClaudeWorkersError):
    """No client has this name."""


class ClientExists(ClaudeWorkersError):
    """A client of this name exists already."""


@dataclass
class Client:
    name: str
    created_at: float
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None
    max_queued: int | None = None
    max_running: int | None = None
    allowed_tools: list[str] | None = None  # None: whatever the fleet allows
    revoked_at: float | None = None
    key_hash: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        """The client as shown (never its key or the key's hash)."""
        data = asdict(self)
        data.pop("key_hash")
        return data


def owner_of(job: Job) -> str | None:
    """The client a job belongs to (None: the operator's job)."""
    owner = (job.meta or {}).get("client")
    return owner if isinstance(owner, str) else None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _load(raw: bytes | str | None) -> Client | None:
    return None if raw is None else Client(**json.loads(raw))


def _save(conn: Redis, keys: Keys, client: Client) -> None:
    conn.hset(keys.clients, client.name, json.dumps(asdict(client)))


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ClaudeWorkersError(
            f"{name!r} is not a client name.",
            hint="Use lower-case letters, digits and _ . - (at most 63 characters), e.g. team-search.",
        )
    return name


def add(conn: Redis, keys: Keys, name: str, **limits: Any) -> tuple[Client, str]:
    """A new client and its key (the only time the key exists outside its holder's hands)."""
    check_name(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = Client(name=name, created_at=time.time(), key_hash=key_hash(key), **limits)
    if not conn.hsetnx(keys.clients, name, json.dumps(asdict(client))):
        raise ClientExists(
            f"A client named {name!r} exists already.",
            hint=f"Change its limits with: claude-workers clients update {name} ...",
        )
    conn.hset(keys.client_keys, client.key_hash, name)
    return client, key


def get(conn: Redis, keys: Keys, name: str) -> Client:
    client = _load(conn.hget(keys.clients, name))
    if client is None:
        raise ClientNotFound(f"No client named {name!r}.", hint="See them with: claude-workers clients list")
    return client


def all_clients(conn: Redis, keys: Keys) -> list[Client]:
    raw: dict[bytes, bytes] = conn.hgetall(keys.clients)  # type: ignore[assignment]
    return sorted((c for c in (_load(v) for v in raw.values()) if c is not None), key=lambda c: c.name)


def update(conn: Redis, keys: Keys, name: str, **changes: Any) -> Client:
    client = get(conn, keys, name)
    for field_name, value in changes.items():
        setattr(client, field_name, value)
    _save(conn, keys, client)
    return client


def revoke(conn: Redis, keys: Keys, name: str) -> Client:
    client = get(conn, keys, name)
    conn.hdel(keys.client_keys, client.key_hash)  # refused from the next request on, everywhere
    if client.revoked_at is None:
        client.revoked_at = time.time()
        _save(conn, keys, client)
    return client


def by_key(conn: Redis, keys: Keys, key: str) -> Client | None:
    """The active client holding ``key``, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    name = conn.hget(keys.client_keys, key_hash(key))
    if not isinstance(name, bytes):
        return None
    client = _load(conn.hget(keys.clients, name.decode()))
    return client if client is not None and client.active else None


# --- what a client's jobs cost -----------------------------------------------------------
def spend(conn: Redis, keys: Keys, name: str, zone: tzinfo, now: datetime | None = None) -> dict[str, float]:
    """US dollars the client's jobs cost today, this week and this month, in ``zone``."""
    return stats.spend(conn, keys.client_spend(name), zone, now)


def budget_block(
    client: Client, spent: dict[str, float], zone: tzinfo, now: datetime | None = None
) -> tuple[str, float] | None:
    """Why the client may not queue more work now, and the Unix time that budget renews; None if it may."""
    moment = (now or datetime.now(zone)).astimezone(zone)
    found = stats.overspent(spent, client.daily_budget_usd, client.monthly_budget_usd, moment)
    if found is None:
        return None
    return (
        f"its {found.period} budget of ${found.budget:g} is spent; it renews at "
        f"{found.renews.isoformat(timespec='minutes')}",
        found.renews.timestamp(),
    )


# --- how many of its jobs are open ------------------------------------------------------
#: add a job to the client's open set unless that would pass its limit (0: no limit)
_OPEN = """
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('scard', KEYS[1]) >= limit then return 0 end
redis.call('sadd', KEYS[1], ARGV[1])
return 1
"""


def open_job(conn: Redis, keys: Keys, client: Client, job_id: str) -> bool:
    """Count ``job_id`` among the client's unfinished jobs; False (and not counted) past max_queued."""
    return bool(conn.eval(_OPEN, 1, keys.client_open(client.name), job_id, client.max_queued or 0))


def close_job(conn: Redis, keys: Keys, name: str, job_id: str) -> None:
    conn.srem(keys.client_open(name), job_id)


def open_count(conn: Redis, keys: Keys, name: str) -> int:
    return int(conn.scard(keys.client_open(name)))


# --- when its jobs may start ------------------------------------------------------------
#: a job of the client starts unless max_running of its jobs run already; entries of jobs that no
#: longer run (their worker was killed) are dropped first, so a crash never holds a slot
_START = """
for _, id in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  if redis.call('hget', ARGV[4] .. id, 'status') ~= 'started' then redis.call('zrem', KEYS[1], id) end
end
local limit = tonumber(ARGV[2])
if limit > 0 and not redis.call('zscore', KEYS[1], ARGV[1]) and redis.call('zcard', KEYS[1]) >= limit then
  return 0
end
redis.call('zadd', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
#: seconds a held job waits before it looks again (a budget may be raised at any time)
HOLD_RETRY_S = 5
RUNNING_RETRY_S = 5


def hold(conn: Redis, keys: Keys, name: str, job_id: str, zone: tzinfo) -> tuple[str, int] | None:
    """Why ``name``'s job may not start now, and in how many seconds to look again; None: it starts
    (and counts as running until ``stopped``)."""
    client = _load(conn.hget(keys.clients, name))
    if client is None:
        return None  # the client was removed: its accepted jobs still run
    blocked = budget_block(client, spend(conn, keys, name, zone), zone)
    if blocked is not None:
        return f"client {name}: {blocked[0]}", min(HOLD_RETRY_S, max(1, int(blocked[1] - time.time())))
    started = conn.eval(
        _START, 1, keys.client_running(name), job_id, client.max_running or 0, time.time(), Keys.rq_job("")
    )
    if not started:
        return f"client {name} has {client.max_running} jobs running, its max_running", RUNNING_RETRY_S
    return None


def stopped(conn: Redis, keys: Keys, name: str, job_id: str) -> None:
    conn.zrem(keys.client_running(name), job_id)
