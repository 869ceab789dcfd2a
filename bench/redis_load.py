"""What a fleet costs its Redis: commands per job, and per idle worker per second.

Ours: real workers (ClaudeWorker, the guard, the credential sync, the health slot) on a redis-server
of the benchmark's own, counted with INFO commandstats: 4 idle workers for 30 s, then 200 guarded
stand-in jobs. Baseline: the same with plain RQ workers (rq.Worker) on the same server, in the same
run, so the ratio is what the fleet adds to what RQ itself costs.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.registry import FinishedJobRegistry

from bench.common import ROOT, Figure, isolated, publish
from tests.fleet_harness import RedisServer, running_fleet, wait_until

IDLE_WORKERS = 4
IDLE_SECONDS = 30
JOBS = 200


def commands(conn: Redis) -> int:
    return sum(int(v["calls"]) for k, v in conn.info("commandstats").items() if k.startswith("cmdstat_"))


def ours(url: str, scratch: Path) -> tuple[float, float]:
    with running_fleet(url, scratch, CLAUDE_WORKERS_SECRET_KEY="") as fleet:
        fleet.start_workers(IDLE_WORKERS)
        time.sleep(5)  # past start-up
        before = commands(fleet.conn)
        time.sleep(IDLE_SECONDS)
        idle = (commands(fleet.conn) - before) / IDLE_SECONDS / IDLE_WORKERS
        queue = Queue(fleet.prefix, connection=fleet.conn)
        before = commands(fleet.conn)
        for _ in range(JOBS):
            queue.enqueue("bench.jobs.guarded_noop")
        wait_until(lambda: fleet.finished() >= JOBS, 300, interval=0.5, what="the jobs")
        per_job = (commands(fleet.conn) - before) / JOBS
    return idle, per_job


def plain_rq(url: str) -> tuple[float, float]:
    conn = Redis.from_url(url)
    name = f"cwt-bench-plain-{uuid.uuid4().hex[:6]}"
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench.run_worker", "raw-forever", name, url], cwd=ROOT)
        for _ in range(IDLE_WORKERS)
    ]
    try:
        time.sleep(5)
        before = commands(conn)
        time.sleep(IDLE_SECONDS)
        idle = (commands(conn) - before) / IDLE_SECONDS / IDLE_WORKERS
        queue = Queue(name, connection=conn)
        before = commands(conn)
        for _ in range(JOBS):
            queue.enqueue("bench.jobs.noop")
        registry = FinishedJobRegistry(name, connection=conn)
        wait_until(lambda: registry.count >= JOBS, 300, interval=0.5, what="the plain jobs")
        per_job = (commands(conn) - before) / JOBS
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    return idle, per_job


def main() -> list[Figure]:
    with isolated() as scratch:
        server = RedisServer(Path(scratch) / "redis").start()
        try:
            idle, per_job = ours(server.url, Path(scratch))
            base_idle, base_per_job = plain_rq(server.url)
        finally:
            server.stop()
    figures = [
        Figure(
            "redis_per_job",
            "Redis commands per job (guarded stand-in job, 4 workers)",
            per_job,
            base_per_job,
            "commands",
            "stated in docs/scaling.md",
            "plain RQ worker, same server, same run",
        ),
        Figure(
            "redis_per_idle_worker",
            "Redis commands per idle worker per second",
            idle,
            base_idle,
            "commands/s",
            "stated in docs/scaling.md",
            "plain RQ worker, same server, same run",
            "ours polls the gate and the shared credential's version; plain RQ blocks on BLPOP",
        ),
    ]
    return publish(figures)


if __name__ == "__main__":
    main()
