"""Where a worker can be reached, and proof that its loop is alive.

Each worker holds a *health slot* (0-9) in Redis while it lives. Slot N is what port 8080+N
of the health gateway answers for (``claude-workers health-gateway``, the compose file's
``health`` service), so the guide's ``curl localhost:8080/health`` reaches the first worker
and 8081, 8082 the next ones, however Docker numbers the containers. A restarted worker
takes back the slot it had: the slot is keyed by the worker's host name and health port,
which a container keeps across restarts.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from redis import Redis

from app.fleet.keys import HEALTH_SLOTS, Keys

#: the health gateway's first port: slot N answers on GATEWAY_PORT + N (the guide's 8080, 8081, ...)
GATEWAY_PORT = 8080

#: claim the slot this identity held, else the lowest free one; returns the slot or -1
_CLAIM = """
local id, value, ttl = ARGV[1], ARGV[2], ARGV[3]
for i = 0, tonumber(ARGV[4]) - 1 do
  local current = redis.call('get', KEYS[1] .. i)
  if current and string.sub(current, 1, #id + 1) == id .. '|' then
    redis.call('set', KEYS[1] .. i, value, 'px', ttl)
    return i
  end
end
for i = 0, tonumber(ARGV[4]) - 1 do
  if redis.call('set', KEYS[1] .. i, value, 'nx', 'px', ttl) then return i end
end
return -1
"""
_RELEASE = """
local current = redis.call('get', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass
class WorkerInfo:
    """What the worker loop tells its health server; updated as jobs start and end."""

    name: str = "starting"
    started_at: float = field(default_factory=time.time)
    current_job: str | None = None
    #: the last time the worker loop showed it was alive (heartbeat, gate wait, dequeue)
    last_beat: float = field(default_factory=time.time)
    slot: int | None = None
    health_url: str | None = None
    #: whether this worker's config dir or environment holds a Claude credential (None: not looked yet)
    has_credential: bool | None = None

    def beat(self) -> None:
        self.last_beat = time.time()


def advertised_url(host: str, port: int) -> str:
    """The health URL other hosts of the network reach this worker at."""
    if host in ("0.0.0.0", "::", ""):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"http://{host}:{port}"


class HealthSlot:
    """This worker's lease on one health slot; claimed at start, refreshed with every heartbeat."""

    def __init__(self, conn: Redis, keys: Keys, health_url: str, ttl_s: float) -> None:
        self.conn = conn
        self.prefix = keys.health_slot("")
        self.identity = f"{socket.gethostname()}:{health_url.rsplit(':', 1)[-1]}"
        self.value = f"{self.identity}|{health_url}"
        self.ttl_ms = int(ttl_s * 1000)

    def claim(self) -> int | None:
        """The slot this worker holds now (None: all are taken; health is then only on its own port)."""
        slot = int(self.conn.eval(_CLAIM, 1, self.prefix, self.identity, self.value, self.ttl_ms, HEALTH_SLOTS))
        return slot if slot >= 0 else None

    def release(self, slot: int) -> None:
        self.conn.eval(_RELEASE, 1, f"{self.prefix}{slot}", self.identity)


def slot_url(conn: Redis, keys: Keys, slot: int) -> str | None:
    """The health URL of the worker holding ``slot``, if any."""
    value = conn.get(keys.health_slot(str(slot)))
    if not isinstance(value, bytes):
        return None
    return value.decode().split("|", 1)[-1] or None
