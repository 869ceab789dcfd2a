"""Memory: an idle worker, and the extra memory per running job with the CLI and the API engine.

Resident memory (RSS) read from /proc: the worker's main process when idle; during a job, the
sum over the job process and everything below it (for the CLI engine: the CLI itself), sampled
while the fake API holds the request open. The baseline is the idle worker.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import find_empty_db, running_fleet, wait_until
from tests.integration.test_fleet_resilience import descendants


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_job_rss(worker_pid: int, seconds: float) -> float:
    peak = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        below = descendants(worker_pid)
        # RQ's scheduler child is not part of a job
        total = sum(rss_mb(p) for p in below if "rq:scheduler" not in _cmd(p) and "Scheduler" not in _cmd(p))
        peak = max(peak, total)
        time.sleep(0.1)
    return peak


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def main() -> list[Figure]:
    results: dict[str, float] = {}
    with isolated() as scratch, FakeAnthropicAPI() as fake:
        url = find_empty_db()
        for engine, preload in (("cli", "false"), ("api", "true")):
            fake.reset()
            env = {
                "ANTHROPIC_BASE_URL": fake.url,
                "ANTHROPIC_API_KEY": "sk-ant-bench",
                "CLAUDE_PRELOAD_API_ENGINE": preload,
            }
            with running_fleet(url, Path(scratch) / engine, **env) as fleet:
                (worker,) = fleet.start_workers(1)
                time.sleep(8)  # let the preload (api) finish and the worker settle
                idle = rss_mb(worker.pid)
                scheduler = sum(rss_mb(p) for p in descendants(worker.pid))
                fake.then(Reply.success(delay=6))
                fleet.enqueue(1, engine=engine)
                wait_until(lambda: len(fake.message_requests()) >= 1, 30, what="the job to reach Claude")
                results[f"{engine}_job"] = peak_job_rss(worker.pid, 4) - scheduler
                results[f"{engine}_idle"] = idle
                wait_until(lambda: fleet.finished() == 1, 30, what="the job")
    figures = [
        Figure(
            "memory_cli_job",
            "extra RSS per running job, CLI engine",
            results["cli_job"],
            results["cli_idle"],
            "MB",
            "about 200 MB (the CLI)",
            "idle worker (no SDK preload)",
        ),
        Figure(
            "memory_api_job",
            "extra RSS per running job, API engine",
            results["api_job"],
            results["api_idle"],
            "MB",
            "about 200 MB less than the CLI engine",
            "idle worker (SDK preloaded)",
            f"CLI job minus API job: {results['cli_job'] - results['api_job']:.0f} MB",
        ),
    ]
    return publish(figures)


if __name__ == "__main__":
    main()
