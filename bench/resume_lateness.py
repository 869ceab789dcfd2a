"""Resume lateness after a known quota reset, with the real CLI and the reset time from the fake API.

Ours: the gate waits for the reset epoch the CLI reported (stream-json ``resetsAt``). Baseline:
the user guide's plain ladder for the same outage (first retry CLAUDE_QUOTA_RETRY_DELAY = 1 h
after the failure), computed from the failure time measured in this run.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import find_empty_db, running_fleet, wait_until

RESET_IN_S = 12
LADDER_FIRST_STEP_S = 3600


def main() -> list[Figure]:
    samples: list[float] = []
    ladder: list[float] = []
    with isolated() as scratch, FakeAnthropicAPI() as fake:
        url = find_empty_db()
        for run in range(3):
            fake.reset()
            env = {
                "ANTHROPIC_BASE_URL": fake.url,
                "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-bench",
                "CLAUDE_GATE_POLL_INTERVAL": "0.2",
            }
            with running_fleet(url, Path(scratch) / f"run{run}", **env) as fleet:
                fleet.start_workers(1)
                resets_at = int(time.time()) + RESET_IN_S
                fake.always(Reply.usage_limit(resets_at, lift_at_reset=True))
                fleet.enqueue(3)
                wait_until(lambda: fleet.finished() == 3, 120, interval=0.2, what="jobs after the reset")
                posts = fake.message_requests()
                failed_at = posts[0].at
                first_ok = min(r.at for r in posts if r.at >= resets_at)
                samples.append(first_ok - resets_at)
                ladder.append(failed_at + LADDER_FIRST_STEP_S - resets_at)
    ours = max(samples)
    figure = Figure(
        "resume_lateness",
        "seconds from the reported reset to the first Claude call that works (worst of 3)",
        ours,
        max(ladder),
        "s",
        "within 5 s",
        "guide's ladder (computed: failure + 1 h)",
        "samples: " + ", ".join(f"{s:.2f}" for s in samples),
    )
    return publish([figure])


if __name__ == "__main__":
    main()
