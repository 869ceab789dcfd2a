"""The user guide's Docker story, played on a real Docker engine with the guide's own commands.

Runs with ``make docker-test`` (CI does), which starts the engine with ../shared/tools/docker-here,
builds the image and stops the engine afterwards. ``make test`` skips it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker.compose_harness import DOCKER_STORY, FAST_RECOVERY, Compose, brought_down
from tests.fleet_harness import wait_until

pytestmark = DOCKER_STORY

API_KEY = "sk-ant-docker-story-key"
OAUTH_TOKEN = "sk-ant-oat01-docker-story-token"


@pytest.fixture
def compose(request: pytest.FixtureRequest) -> Iterator[Compose]:
    stack = Compose(
        **FAST_RECOVERY,
        CLAUDE_QUOTA_RESET_JITTER="0",
        # the isolation step gives its agent every tool and permission there is
        CLAUDE_WORKERS_ALLOWED_TOOLS="*",
        CLAUDE_WORKERS_ALLOWED_PERMISSION_MODES="*",
    )
    with brought_down(request, stack):
        yield stack


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    return wait_until(predicate, timeout, interval=interval, what=what)


def setup(compose: Compose, flag: str, secret: str) -> str:
    """The guide's login command, in a script's form (the secret on stdin)."""
    out = compose.run(
        "exec", "-T", "worker", "python", "-m", "app.claude_auth_manager", "setup", flag, stdin=secret + "\n"
    )
    assert "Verified" in out, out
    return out


def all_workers(compose: Compose, n: int, key: str, value: object) -> bool:
    answers = [compose.health(i) or {} for i in range(1, n + 1)]
    return all(a.get(key) == value for a in answers)


def finished(compose: Compose, ids: list[str]) -> list[dict[str, object]] | None:
    views = compose.jobs(ids)
    return views if all(v["status"] == "finished" for v in views) else None


def test_the_guide_on_a_real_docker_engine(compose: Compose) -> None:
    # 1. Start the containers
    compose.run("up", "-d", timeout=300)
    # 2. Check Claude status: not logged in, and the state says so
    first = wait_for(lambda: compose.health(1), 60, "the first worker's /health on port 8080")
    assert first["authenticated"] is False
    assert first["state"] == "auth_required" and first["label"] == "Auth Required"
    assert first["live"] is True

    # 3. Authenticate, once, through the guide's command
    out = setup(compose, "--api-key-stdin", API_KEY)
    assert API_KEY not in out
    # the guide's other auth manager commands, and the CLI itself, in the container
    status = compose.run("exec", "-T", "worker", "python", "-m", "app.claude_auth_manager", "status")
    assert "ready" in status.lower() and API_KEY not in status
    compose.run("exec", "-T", "worker", "python", "-m", "app.claude_auth_manager", "test")
    assert "claude-workers-credential.json" in compose.run(
        "exec", "-T", "worker", "python", "-m", "app.claude_auth_manager", "config"
    )
    assert "(Claude Code)" in compose.run("exec", "-T", "worker", "claude", "--version")
    owner = compose.run(
        "exec", "-T", "worker", "stat", "-c", "%a %U", "/root/.config/claude/claude-workers-credential.json"
    )
    assert owner.split() == ["600", "claude"], owner
    # 4. Verify: within 3 s
    logged_in = time.monotonic()
    wait_for(lambda: all_workers(compose, 1, "authenticated", True), 3, "the worker to say authenticated")
    assert time.monotonic() - logged_in < 3

    # a job through the API on the host finishes with its text and cost
    [job_id] = compose.submit(1, "say OK")
    [view] = wait_for(lambda: finished(compose, [job_id]), 60, "the first job")
    assert view["result"]["text"] == "OK"
    assert view["result"]["cost_usd"] > 0

    # 5. Scale to 3: all authenticated without a new login, on 8080, 8081, 8082
    compose.run("up", "-d", "--scale", "worker=3", timeout=300)
    wait_for(lambda: all_workers(compose, 3, "authenticated", True), 60, "three authenticated workers")
    names = {(compose.health(i) or {}).get("worker") for i in (1, 2, 3)}
    assert len(names) == 3, names
    ids = compose.submit(30, "say OK")
    views = wait_for(lambda: finished(compose, ids), 120, "30 jobs")
    ran_on = {a["worker"] for v in views for a in v["attempts"] if a["outcome"] == "ok"}
    assert len(ran_on) == 3, f"the 30 jobs ran on {ran_on}"

    # the agent of a job, with every tool and permission, cannot reach the fleet's credential
    attack = (
        "id; cat /root/.config/claude/claude-workers-credential.json; env; "
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; "
        "ls /proc/1/root/root/.config/claude; echo attacks-ran"
    )
    compose.fake(kind="script", calls=[{"name": "Bash", "input": {"command": attack, "description": "x"}}])
    answer = compose.api("POST", "/jobs", json={"prompt": "find the key", "permission_mode": "bypassPermissions"})
    assert answer.status_code == 201, answer.text
    [view] = wait_for(lambda: finished(compose, [answer.json()["id"]]), 60, "the attacking job")
    bodies = compose.fake_bodies()
    assert "attacks-ran" in bodies, "the agent's commands did not run"
    assert API_KEY not in bodies and API_KEY not in str(view)
    compose.fake(kind="success")

    # 6. A subscription login (a new login on one worker reaches all three), then its usage limit,
    #    resetting 20 s ahead, pauses all three; they resume within 5 s of the reset
    setup(compose, "--oauth-token-stdin", OAUTH_TOKEN)
    resets_at = int(time.time()) + 20
    compose.fake(kind="usage_limit", resets_at=resets_at, lift_at_reset=True)
    ids = compose.submit(6, "after the limit")
    wait_for(lambda: all_workers(compose, 3, "state", "quota_exceeded"), 15, "all three workers to pause")
    assert all_workers(compose, 3, "live", True), "a usage limit must never fail liveness"
    calls_during_pause = compose.fake_message_count()
    views = wait_for(lambda: finished(compose, ids), 60, "the jobs after the reset", interval=0.25)
    first_done = min(a["ended_at"] for v in views for a in v["attempts"] if a["outcome"] == "ok")
    assert first_done - resets_at < 5, f"resumed {first_done - resets_at:.1f}s after the reset"
    assert compose.fake_message_count() - calls_during_pause <= len(ids) + 2

    # 7. SIGKILL every worker mid-job, then `up -d` again: no job lost
    compose.fake(kind="success", delay=3)
    ids = compose.submit(6, "slow")
    wait_for(lambda: any(v["status"] == "started" for v in compose.jobs(ids)), 30, "a job to start")
    compose.run("kill", "-s", "SIGKILL", "worker")
    compose.run("up", "-d", "--scale", "worker=3", timeout=300)
    views = wait_for(lambda: finished(compose, ids), 120, "every job after the SIGKILL", interval=0.5)
    assert [v["status"] for v in views] == ["finished"] * 6
    compose.fake(kind="success")

    # 8. Restart workers: the login is kept
    compose.run("restart", "worker", timeout=120)
    wait_for(lambda: all_workers(compose, 3, "authenticated", True), 60, "authenticated after a restart")

    # 9. Every service reports healthy
    wait_for(lambda: set(compose.health_status().values()) == {"healthy"}, 90, "every service healthy", interval=1)
    logs = compose.logs()
    assert API_KEY not in logs and OAUTH_TOKEN not in logs
    assert "Work-horse terminated unexpectedly" not in logs
