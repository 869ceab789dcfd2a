"""The gate on a real Redis: every transition, concurrency, the probe lock, two deployments."""

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from app.errors import AuthRequired, UsageLimitReached
from app.fleet.gate import Gate
from app.fleet.keys import Keys
from app.fleet.policy import Timing
from app.settings import Settings

DEFAULT_TIMING = Timing.from_settings(Settings.model_construct())


@pytest.fixture
def conn(redis_url: str) -> Iterator[Redis]:
    conn = Redis.from_url(redis_url)
    yield conn


@pytest.fixture
def gate(conn: Redis) -> Iterator[Gate]:
    prefix = f"cwt-{uuid.uuid4().hex[:8]}"
    yield Gate(conn, Keys(prefix), dataclasses.replace(DEFAULT_TIMING, auth_delay=300))
    for key in conn.scan_iter(f"{prefix}*"):
        conn.delete(key)


def test_starts_open(gate: Gate) -> None:
    assert gate.read().is_open


def test_close_extend_probe_open(gate: Gate) -> None:
    t0 = time.time()
    state = gate.report_failure(AuthRequired("denied"), attempt_started_at=t0, probe=False)
    assert state.state == "auth_required" and state.until == pytest.approx(t0 + 300, abs=2)
    # an older in-flight success proves nothing
    assert not gate.report_success(attempt_started_at=t0 - 5, probe=False).is_open
    # a longer outage extends it
    resets = time.time() + 7200
    state = gate.report_failure(UsageLimitReached("wall", resets_at=resets), attempt_started_at=t0 - 1, probe=False)
    assert state.state == "quota_exceeded" and state.until >= resets
    # a probe that works opens it for everyone
    assert gate.report_success(attempt_started_at=time.time(), probe=True).is_open
    assert gate.read().is_open


def test_concurrent_closures_keep_the_latest_until(gate: Gate) -> None:
    base = time.time()
    errors = [UsageLimitReached("w", resets_at=base + 100 * i) for i in range(1, 21)]
    threads = [
        threading.Thread(target=gate.report_failure, args=(e,), kwargs={"attempt_started_at": base, "probe": False})
        for e in errors
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gate.read().until >= base + 2000  # the last reset wins, whatever the order


def test_credentials_change_makes_the_probe_due(gate: Gate) -> None:
    gate.report_failure(AuthRequired("x"), attempt_started_at=time.time(), probe=False)
    assert not gate.read().probe_due()
    gate.credentials_changed()
    assert gate.read().probe_due()


def test_probe_lock_is_exclusive_and_owned(gate: Gate) -> None:
    assert gate.acquire_probe("w1")
    assert not gate.acquire_probe("w2")
    assert gate.probe_holder() == "w1"
    assert not gate.release_probe("w2") and gate.probe_holder() == "w1"
    assert gate.refresh_probe("w1") and not gate.refresh_probe("w2")
    assert gate.release_probe("w1") and gate.probe_holder() is None


def test_two_deployments_share_a_redis_without_sharing_a_gate(conn: Redis, gate: Gate) -> None:
    other = Gate(conn, Keys(f"cwt-{uuid.uuid4().hex[:8]}"), DEFAULT_TIMING)
    try:
        gate.report_failure(AuthRequired("x"), attempt_started_at=time.time(), probe=False)
        assert not gate.read().is_open
        assert other.read().is_open
    finally:
        for key in conn.scan_iter(f"{other.keys.prefix}*"):
            conn.delete(key)


def test_a_thousand_workers_elect_one_probe_per_step(redis_url: str, gate: Gate) -> None:
    """docs/scaling.md: with 1,000 workers, each step of an outage still costs one Claude call."""
    workers = 1000
    steps = 3
    conn = Redis.from_url(redis_url, max_connections=workers + 10)  # one connection per worker, as a fleet has
    gate = Gate(conn, gate.keys, gate.timing)
    gate.report_failure(
        UsageLimitReached("limit", resets_at=time.time() - 1, limit_type="five_hour"),
        attempt_started_at=time.time(),
        probe=False,
    )
    probes: list[list[str]] = []
    for step in range(steps):
        # the probe is due: every worker looks at once, as their gate-wait loops would
        conn.hset(gate.keys.fleet, "until", time.time() - 0.01)
        won: list[str] = []
        barrier = threading.Barrier(workers)

        def look(name: str, barrier: threading.Barrier = barrier, won: list[str] = won) -> None:
            barrier.wait()
            if gate.read().probe_due() and gate.acquire_probe(name):
                won.append(name)

        threads = [threading.Thread(target=look, args=(f"w{step}-{i}",)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        probes.append(won)
        # the probe meets the limit again: the gate stays closed, the lock is released
        [winner] = won
        gate.report_failure(
            UsageLimitReached("limit", resets_at=time.time() + 60, limit_type="five_hour"),
            attempt_started_at=time.time(),
            probe=True,
        )
        assert gate.release_probe(winner)
        # until the next step is due, nobody probes
        assert not gate.read().probe_due()
    assert [len(won) for won in probes] == [1] * steps
