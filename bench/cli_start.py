"""How long the CLI takes to answer: `--help`, a command's help, and `status` against a running Redis.

Ours: the median wall time of 15 runs of each command as a user types it (`claude-workers ...`,
`python -m app.claude_auth_manager --help`). Baseline: RQ's own command line, `rq --help` and
`rq info`, measured the same way in the same run (the tool an RQ user already waits for).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Figure, isolated, publish
from tests.fleet_harness import find_empty_db

RUNS = 15
BIN = Path(sys.executable).parent


def median_seconds(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> list[Figure]:
    with isolated():
        url = find_empty_db()
        env = {**os.environ, "REDIS_URL": url}
        ours = str(BIN / "claude-workers")
        rq = str(BIN / "rq")
        measured = {
            "help": median_seconds([ours, "--help"], env),
            "jobs_help": median_seconds([ours, "jobs", "--help"], env),
            "auth_help": median_seconds([sys.executable, "-m", "app.claude_auth_manager", "--help"], env),
            "submit_help": median_seconds([ours, "submit", "--help"], env),
            "status": median_seconds([ours, "status"], env),
            "rq_help": median_seconds([rq, "--help"], env),
            "rq_info": median_seconds([rq, "info", "--url", url], env),
        }
    ms = {name: seconds * 1000 for name, seconds in measured.items()}
    figures = [
        Figure(
            "cli_start_help",
            "`claude-workers --help`, median of 15",
            ms["help"],
            ms["rq_help"],
            "ms",
            "under 300 ms",
            "`rq --help`, same run",
            f"`claude-workers jobs --help` {ms['jobs_help']:.0f} ms; `python -m app.claude_auth_manager --help` "
            f"{ms['auth_help']:.0f} ms; `claude-workers submit --help` {ms['submit_help']:.0f} ms (its flags are "
            "built from the job model, so it loads pydantic)",
        ),
        Figure(
            "cli_start_status",
            "`claude-workers status` against Redis, median of 15",
            ms["status"],
            ms["rq_info"],
            "ms",
            "no slower than RQ's own `rq info`",
            "`rq info`, same Redis, same run",
            "most of either is importing redis-py (about 350 ms here)",
        ),
    ]
    return publish(figures)


if __name__ == "__main__":
    main()
