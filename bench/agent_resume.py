"""What a limit in the middle of a long agent job costs: resume the session against start over.

The real CLI runs a 20-turn tool-using job (19 file writes, then its answer) against the fake API,
and the job is cut off at turn 12: once by a usage limit (the fake answers 429 with the unified
reset headers until a reset 6 s later), once by a SIGKILL of its worker (another worker takes the
job over). Ours resumes the session (`resume`, the default); the baseline is the same job with
`resume: false`, which starts over from turn 1 as every queue does (measured in the same run).
We count the API calls (turns) the job made in total, and roughly the input tokens they carried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import FAST_RECOVERY, Fleet, find_empty_db, running_fleet, wait_until

TURNS = 20  # 19 tool calls and the answer
CUT_AT = 12  # the turn that meets the wall (or the kill)


def _job(fleet: Fleet, resume: bool) -> str:
    (job_id,) = fleet.enqueue(
        1,
        prompt="Write the twenty step files, one per turn.",
        engine="cli",
        allowed_tools=["Write"],
        permission_mode="acceptEdits",
        max_turns=60,
        resume=resume,
    )
    return job_id


def _script(fleet: Fleet, job_id: str, **reply: Any) -> Reply:
    workspace = Path(fleet.settings_env()["CLAUDE_WORKSPACE_ROOT"]) / "jobs" / job_id
    calls = [
        ("Write", {"file_path": str(workspace / f"step-{i:02d}.txt"), "content": f"step {i}\n"})
        for i in range(TURNS - 1)
    ]
    return Reply.script(*calls, text="twenty steps", **reply)


def run(scratch: Path, how: str, resume: bool) -> tuple[int, int]:
    """(turns, input tokens) of one job cut at turn 12 by ``how`` (wall or kill)."""
    with FakeAnthropicAPI() as fake:
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-bench",
            "CLAUDE_GATE_POLL_INTERVAL": "0.2",
            "CLAUDE_QUOTA_RESET_JITTER": "0",
            "CLAUDE_PRELOAD_API_ENGINE": "false",
            **FAST_RECOVERY,
        }
        with running_fleet(find_empty_db(), scratch / f"{how}-{resume}", **env) as fleet:
            job_id = _job(fleet, resume)
            if how == "wall":
                fake.always(_script(fleet, job_id, wall_at=CUT_AT - 1, wall_for=6))
                fleet.start_worker()
            else:
                fake.always(_script(fleet, job_id, delay=0.3))
                victim = fleet.start_worker()
                wait_until(lambda: len(fake.message_requests()) >= CUT_AT, 120, interval=0.02, what="turn 12")
                fleet.kill_group(victim)
                fleet.start_worker()
            wait_until(lambda: fleet.finished() == 1, 300, interval=0.2, what="the job to finish")
        return len(fake.message_requests()), fake.input_tokens_sent()


def main() -> list[Figure]:
    figures = []
    with isolated() as scratch:
        cases = (
            ("wall", "a usage limit", "at most 21 turns where a restart takes 32"),
            # the turn in flight when the worker died has no answer in the transcript: it is asked again
            ("kill", "a SIGKILL of its worker", "at most 22 turns (the turn cut off is asked again) against 32"),
        )
        for how, label, goal in cases:
            ours_turns, ours_tokens = run(scratch, how, resume=True)
            base_turns, base_tokens = run(scratch, how, resume=False)
            figures.append(
                Figure(
                    f"agent_resume_{how}",
                    f"API turns of a {TURNS}-turn agent job cut at turn {CUT_AT} by {label}",
                    ours_turns,
                    base_turns,
                    "turns",
                    goal,
                    "restart from scratch (resume: false), same run",
                    f"input tokens sent (about): ours {ours_tokens:,}, restart {base_tokens:,} "
                    f"({ours_tokens / base_tokens:.2f}x)",
                    {"ours_input_tokens": ours_tokens, "baseline_input_tokens": base_tokens},
                )
            )
    return publish(figures)


if __name__ == "__main__":
    main()
