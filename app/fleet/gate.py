"""The fleet gate in Redis: read it, close it, open it, and elect the one probe.

Every change is a read-compute-write under ``WATCH``, so concurrent workers never lose an
update, and the computing is done by the pure functions in ``policy``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable

import redis
from redis import Redis

from app.errors import FleetBlockingError
from app.fleet import events, policy
from app.fleet.keys import Keys
from app.fleet.state import FleetState
from app.settings import Settings

log = logging.getLogger(__name__)

#: a probe lock outlives a dead prober by at most this long; its holder refreshes it
PROBE_LOCK_TTL_MS = 60_000

_RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_REFRESH_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class Gate:
    def __init__(self, conn: Redis, keys: Keys, timing: policy.Timing, rng: random.Random | None = None) -> None:
        self.conn = conn
        self.keys = keys
        self.timing = timing
        self.rng = rng or random.Random()

    @classmethod
    def of(cls, conn: Redis, settings: Settings) -> Gate:
        """The gate of the deployment ``settings`` describe."""
        return cls(conn, Keys(settings.claude_workers_prefix), policy.Timing.from_settings(settings))

    # -- reading ---------------------------------------------------------------------
    def read(self) -> FleetState:
        return FleetState.from_redis(self.conn.hgetall(self.keys.fleet))  # type: ignore[arg-type]

    def probe_holder(self) -> str | None:
        value = self.conn.get(self.keys.probe_lock)
        return value.decode() if isinstance(value, bytes) else None

    # -- changing --------------------------------------------------------------------
    def _update(self, change: Callable[[FleetState], FleetState | None]) -> tuple[FleetState, bool]:
        key = self.keys.fleet
        while True:
            with self.conn.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    current = FleetState.from_redis(pipe.hgetall(key))  # type: ignore[arg-type]
                    new = change(current)
                    if new is None:
                        pipe.unwatch()
                        return current, False
                    pipe.multi()
                    pipe.delete(key)
                    pipe.hset(key, mapping=new.to_redis())  # type: ignore[arg-type]
                    pipe.publish(self.keys.events, json.dumps({"event": "gate", "state": new.state}))
                    pipe.execute()
                    return new, True
                except redis.WatchError:
                    continue

    def report_failure(self, error: FleetBlockingError, *, attempt_started_at: float, probe: bool) -> FleetState:
        now = time.time()
        state, changed = self._update(
            lambda cur: policy.on_failure(
                cur,
                error,
                now=now,
                attempt_started_at=attempt_started_at,
                probe=probe,
                timing=self.timing,
                rng=self.rng,
            )
        )
        if changed:
            events.emit(
                self.conn, self.keys, "fleet.gate_closed", state=state.state, until=state.until, reason=state.reason
            )
            log.warning(
                "fleet gate closed: %s until %s (step %d, %s)",
                state.state,
                _fmt(state.until),
                state.step,
                "probe" if probe else "in-flight job",
            )
        return state

    def report_success(self, *, attempt_started_at: float, probe: bool, was_open: bool = False) -> FleetState:
        """Record a success; it opens a closed gate when it proves Claude works again.

        ``was_open``: the caller saw the gate open when its run started. Then, unless the gate
        closed meanwhile, only ``last_success_at`` changes: one write, no transaction (this is
        the path of every ordinary job).
        """
        now = time.time()
        if was_open and not probe:
            current = self.read()
            if current.is_open:
                self.conn.hset(self.keys.fleet, "last_success_at", str(now))
                current.last_success_at = now
                return current
        before = self.read()
        state, changed = self._update(
            lambda cur: policy.on_success(cur, now=now, attempt_started_at=attempt_started_at, probe=probe)
        )
        if changed and not before.is_open and state.is_open:
            log.info("fleet gate opened: Claude answered again after %s", before.state)
            events.emit(self.conn, self.keys, "fleet.gate_opened", after=before.state)
        return state

    def credentials_changed(self) -> FleetState:
        """Make an auth or billing probe due now (the auth manager and the file watcher call this)."""
        return self._probe_now(policy.credentials_changed, "credentials changed")

    def cap_lifted(self) -> FleetState:
        """Make a budget probe due now (a waiting worker found the spending cap raised)."""
        return self._probe_now(policy.cap_lifted, "the fleet's spending cap was raised")

    def _probe_now(self, rule: Callable[..., FleetState | None], why: str) -> FleetState:
        now = time.time()
        state, changed = self._update(lambda cur: rule(cur, now=now))
        if changed:
            log.info("%s: probing at once", why)
        return state

    # -- the probe lock ----------------------------------------------------------------
    def acquire_probe(self, owner: str) -> bool:
        won = bool(self.conn.set(self.keys.probe_lock, owner, nx=True, px=PROBE_LOCK_TTL_MS))
        if won:
            events.emit(self.conn, self.keys, "fleet.probe", worker=owner)
        return won

    def refresh_probe(self, owner: str) -> bool:
        return bool(self.conn.eval(_REFRESH_IF_OWNER, 1, self.keys.probe_lock, owner, PROBE_LOCK_TTL_MS))

    def release_probe(self, owner: str) -> bool:
        return bool(self.conn.eval(_RELEASE_IF_OWNER, 1, self.keys.probe_lock, owner))


def _fmt(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) + f" (in {max(0.0, epoch - time.time()):.0f}s)"
