"""Claude calls during one outage step with 500 queued jobs.

Ours: 2 fleet workers, the jobs guarded by the gate. Baseline: plain RQ with per-job
exception retries (``Retry(max, interval=step)``) on 2 plain workers with a scheduler, the
way the user guide's system and its public relatives retry. The fake API rejects every call
with a usage limit until the step ends; every call is counted there.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from redis import Redis
from rq import Queue, Retry
from rq.registry import FinishedJobRegistry

from bench.common import ROOT, Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import find_empty_db, running_fleet, wait_until

JOBS = 500
STEP_S = 25


def calls_in(fake: FakeAnthropicAPI, start: float, end: float) -> int:
    return sum(1 for r in fake.message_requests() if start <= r.at < end)


def ours(url: str, fake: FakeAnthropicAPI, scratch: object) -> tuple[int, float]:
    from pathlib import Path

    with running_fleet(url, Path(str(scratch)), CLAUDE_GATE_POLL_INTERVAL="0.2") as fleet:
        fleet.start_workers(2)
        resets_at = int(time.time()) + STEP_S
        fake.always(Reply.usage_limit(resets_at, lift_at_reset=True))
        started = time.time()
        queue = Queue(fleet.prefix, connection=fleet.conn)
        with fleet.conn.pipeline() as pipe:
            for _ in range(JOBS):
                queue.enqueue("bench.jobs.guarded_call_fake", fake.url, pipeline=pipe, failure_ttl=-1)
            pipe.execute()
        wait_until(lambda: fleet.finished() == JOBS, 300, interval=0.5, what="our jobs")
        return calls_in(fake, started, resets_at), time.time() - started


def baseline(url: str, fake: FakeAnthropicAPI) -> tuple[int, float]:
    conn = Redis.from_url(url)
    name = f"cwt-bench-retry-{uuid.uuid4().hex[:6]}"
    queue = Queue(name, connection=conn)
    resets_at = int(time.time()) + STEP_S
    fake.always(Reply.usage_limit(resets_at, lift_at_reset=True))
    started = time.time()
    with conn.pipeline() as pipe:
        for _ in range(JOBS):
            queue.enqueue("bench.plain_jobs.call_fake", fake.url, retry=Retry(max=5, interval=[STEP_S]), pipeline=pipe)
        pipe.execute()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rq.cli",
                "worker",
                "-u",
                url,
                "--with-scheduler",
                "-q",
                "--logging_level",
                "WARNING",
                name,
            ],
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    try:
        wait_until(
            lambda: FinishedJobRegistry(name, connection=conn).count == JOBS, 300, interval=0.5, what="baseline jobs"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        for key in conn.scan_iter(f"*{name}*"):
            conn.delete(key)
    return calls_in(fake, started, resets_at), time.time() - started


def main() -> list[Figure]:
    with isolated() as scratch, FakeAnthropicAPI() as fake:
        url = find_empty_db()
        our_calls, our_time = ours(url, fake, scratch)
        fake.reset()
        base_calls, base_time = baseline(url, fake)
    figure = Figure(
        "outage_calls",
        f"Claude calls during one {STEP_S}s usage-limit step, {JOBS} queued jobs",
        our_calls,
        base_calls,
        "calls",
        "one probe per step (plus the calls already in flight)",
        "plain RQ per-job Retry",
        f"all {JOBS} finished in both; ours {our_time:.1f}s, baseline {base_time:.1f}s from enqueue to last job",
    )
    return publish([figure])


if __name__ == "__main__":
    main()
