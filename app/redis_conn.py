"""Redis connections: one place that knows REDIS_URL, and a bounded wait for it."""

from __future__ import annotations

import time
from typing import Any

import redis
from redis import Redis
from redis.utils import get_lib_version

from app.errors import RedisUnavailable
from app.settings import Settings


def _driver() -> dict[str, Any]:
    """redis-py 7 and later look their own version up in the installed packages' metadata for every
    new connection (about 2 ms in a fresh job process, which opens one for each job): it is
    looked up once, here. Earlier versions did so once, at import."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:
        return {}
    return {"driver_info": DriverInfo(lib_version=get_lib_version())}


_DRIVER = _driver()


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and errors."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    _, _, host = rest.rpartition("@")
    return f"{scheme}://***@{host}"


def connect(settings: Settings, *, socket_timeout: float | None = None, connect_timeout: float = 5.0) -> Redis:
    """A client for REDIS_URL; ``socket_timeout`` bounds every command (for answers that must not hang)."""
    return Redis.from_url(
        settings.effective_redis_url,
        health_check_interval=15,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        **_DRIVER,
    )


def ping(conn: Redis) -> bool:
    try:
        return bool(conn.ping())
    except (redis.RedisError, OSError):
        return False


def wait_for_redis(settings: Settings, timeout: float = 30.0, conn: Redis | None = None) -> Redis:
    """Block until Redis answers, or raise RedisUnavailable naming REDIS_URL after ``timeout``."""
    conn = conn or connect(settings)
    deadline = time.monotonic() + timeout
    delay = 0.2
    last_error = "no answer"
    while True:
        try:
            conn.ping()
            return conn
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() >= deadline:
            raise RedisUnavailable(
                f"Redis at REDIS_URL={redact_url(settings.effective_redis_url)} did not answer "
                f"within {timeout:g} s ({last_error}).",
                hint="Start Redis or fix REDIS_URL; without REDIS_URL, `claude-workers up` starts an embedded one.",
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
