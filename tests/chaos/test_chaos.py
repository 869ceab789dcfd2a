"""Failures provoked on purpose; each run ends with a count: finished, lost (must be 0), run twice.

CI runs the short version. The full one runs by hand:

    CHAOS_FULL=1 CHAOS_REPORT=bench/results/chaos.json .venv/bin/pytest -m chaos -s
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from app.claude.credentials import CredentialKind, store_credential
from tests.conftest import ROOT
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import FAST_RECOVERY, Fleet, RedisServer, running_fleet, wait_until
from tests.integration.test_fleet_resilience import descendants

pytestmark = [pytest.mark.chaos, pytest.mark.story, pytest.mark.integration, pytest.mark.timeout(900)]

FULL = os.environ.get("CHAOS_FULL") == "1"


def count(fleet: Fleet, ids: list[str], name: str) -> dict[str, int]:
    finished = lost = twice = 0
    for job_id in ids:
        try:
            job = fleet.job(job_id)
        except Exception:
            lost += 1
            continue
        if job.get_status().value == "finished":
            finished += 1
        else:
            lost += 1
        oks = sum(1 for a in job.meta.get("attempts", []) if a.get("outcome") == "ok")
        twice += oks > 1
    result = {"jobs": len(ids), "finished": finished, "lost": lost, "run_twice": twice}
    print(f"chaos {name}: {json.dumps(result)}")
    report = os.environ.get("CHAOS_REPORT")
    if report:
        path = Path(report) if Path(report).is_absolute() else ROOT / report  # tests run in a temp dir
        data = json.loads(path.read_text()) if path.exists() else {}
        data[name] = result | {"full": FULL}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
    return result


def kill_tree(pid: int) -> None:
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def test_sigkill_workers_and_children_during_a_run(fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path) -> None:
    jobs, kills = (200, 10) if FULL else (30, 2)
    fake_api.always(Reply.success(delay=0.4))
    env = {
        "ANTHROPIC_BASE_URL": fake_api.url,
        "ANTHROPIC_API_KEY": "sk-ant-chaos",
        "CLAUDE_PRELOAD_API_ENGINE": "true",
        **FAST_RECOVERY,
    }
    rng = random.Random(7)
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        workers = fleet.start_workers(2)
        ids = fleet.enqueue(jobs, engine="api")
        wait_until(lambda: fleet.finished() >= 3, 60, what="the run to start")
        for _ in range(kills):
            victim = workers.pop(rng.randrange(len(workers)))
            kill_tree(victim.pid)
            victim.wait()
            workers.append(fleet.start_worker())
            time.sleep(rng.uniform(1.0, 3.0))
        wait_until(lambda: fleet.finished() == jobs, 240, interval=0.5, what=f"all {jobs} jobs after {kills} kills")
        result = count(fleet, ids, "sigkill")
    assert result["lost"] == 0 and result["finished"] == jobs


def test_redis_restarts_during_a_run(fake_api: FakeAnthropicAPI, tmp_path: Path) -> None:
    jobs, restarts = (120, 3) if FULL else (30, 1)
    fake_api.always(Reply.success(delay=0.2))
    server = RedisServer(tmp_path / "redis").start()
    env = {
        "ANTHROPIC_BASE_URL": fake_api.url,
        "ANTHROPIC_API_KEY": "sk-ant-chaos",
        "CLAUDE_PRELOAD_API_ENGINE": "true",
        **FAST_RECOVERY,
    }
    try:
        with running_fleet(server.url, tmp_path, **env) as fleet:
            fleet.start_workers(2)
            ids = fleet.enqueue(jobs, engine="api")
            for n in range(restarts):
                wait_until(
                    lambda n=n: fleet.finished() >= (n + 1) * jobs // (restarts + 2),
                    120,
                    interval=0.3,
                    what="progress before a restart",
                )
                server.stop()
                time.sleep(2)
                server.start()
            wait_until(lambda: fleet.finished() == jobs, 240, interval=0.5, what="all jobs after the restarts")
            result = count(fleet, ids, "redis_restart")
    finally:
        server.stop(signal.SIGKILL)
    assert result["lost"] == 0 and result["finished"] == jobs


def test_quota_wall_then_logout_then_recovery(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, isolated_env: Path
) -> None:
    jobs = 60 if FULL else 24
    good = "sk-ant-api-chaos-good"
    store_credential(isolated_env, CredentialKind.API_KEY, good)
    fake_api.always(Reply.success(delay=0.2))
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "CLAUDE_PRELOAD_API_ENGINE": "true", "CLAUDE_GATE_POLL_INTERVAL": "0.2"}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(2)
        ids = fleet.enqueue(jobs, engine="api")
        wait_until(lambda: fleet.finished() >= jobs // 4, 60, what="a quarter of the jobs")

        resets_at = int(time.time()) + 6  # the wall
        fake_api.always(Reply.usage_limit(resets_at, lift_at_reset=True))
        wait_until(lambda: fleet.gate().get("state") == "quota_exceeded", 30, what="quota_exceeded")
        wait_until(lambda: fleet.gate().get("state") == "ready", 30, what="the gate to open after the reset")

        wait_until(lambda: fleet.finished() >= jobs // 2, 60, what="half of the jobs")
        fake_api.always(Reply.of("auth", accept="sk-ant-api-chaos-new"))  # the logout
        wait_until(lambda: fleet.gate().get("state") == "auth_required", 30, what="auth_required")
        paused_at = fleet.finished()
        time.sleep(2)
        assert fleet.finished() == paused_at
        store_credential(isolated_env, CredentialKind.API_KEY, "sk-ant-api-chaos-new")  # the login
        wait_until(lambda: fleet.finished() == jobs, 120, interval=0.3, what="all jobs after the login")
        result = count(fleet, ids, "quota_then_logout")
        assert fleet.failed() == 0
    assert result["lost"] == 0 and result["finished"] == jobs
