"""The fleet end to end: real worker processes, real Redis, the real Claude CLI, the fake API."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest

from app.claude.credentials import CredentialKind, store_credential
from tests.conftest import PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import running_fleet, wait_until

pytestmark = pytest.mark.integration

OAUTH = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-test"}
API_KEY = {"ANTHROPIC_API_KEY": "sk-ant-api-test"}


def fast_env(fake: FakeAnthropicAPI, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": fake.url, "CLAUDE_GATE_POLL_INTERVAL": "0.2", **extra}


def calls_between(fake: FakeAnthropicAPI, start: float, end: float) -> int:
    return sum(1 for r in fake.message_requests() if start <= r.at < end)


def test_jobs_run_on_several_workers(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    with running_fleet(redis_url, tmp_path, **fast_env(fake_api, **API_KEY)) as fleet:
        fleet.start_workers(2)
        ids = fleet.enqueue(6)
        wait_until(lambda: fleet.finished() == 6, 60, what="6 jobs to finish")
        job = fleet.job(ids[0])
        result = job.return_value()
        assert result["text"] == "OK" and result["cost_usd"] > 0 and result["session_id"]
        assert [a["outcome"] for a in job.meta["attempts"]] == ["ok"]
        workers = {fleet.job(i).meta["attempts"][0]["worker"] for i in ids}
        assert len(workers) == 2


@pytest.mark.story
@pytest.mark.timeout(240)  # above its own longest wait, so that wait's message is what shows
@pytest.mark.parametrize(
    ("workers", "jobs", "reset_in", "engine"),
    # the "done when" through the real CLI; the 100-job wall through the real SDK, which
    # meets the same gate and is far lighter on a 2-core machine than 100 CLI processes
    [(2, 20, 15, "cli"), (3, 100, 12, "api")],
)
def test_quota_wall_pauses_the_fleet_and_resumes_at_the_reset(
    fake_api: FakeAnthropicAPI,
    redis_url: str,
    tmp_path: Path,
    claude_bin: str,
    workers: int,
    jobs: int,
    reset_in: int,
    engine: str,
) -> None:
    credential = OAUTH if engine == "cli" else API_KEY
    env = fast_env(fake_api, **credential, CLAUDE_PRELOAD_API_ENGINE=str(engine == "api").lower())
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(workers)
        if engine == "api":  # the workers finish preloading the SDK before the clock starts
            wait_until(lambda: fleet.log_text().count("API engine loaded") == workers, 30, what="the SDK preloads")
        resets_at = int(time.time()) + reset_in
        fake_api.always(Reply.usage_limit(resets_at, claim="five_hour", lift_at_reset=True))
        started = time.time()
        fleet.enqueue(jobs, engine=engine)

        gate = wait_until(lambda: fleet.gate().get("state") == "quota_exceeded" and fleet.gate(), 20, what="gate")
        assert float(gate["resets_at"]) == resets_at
        assert resets_at <= float(gate["until"]) <= resets_at + 5

        wait_until(lambda: fleet.finished() == jobs, 150, interval=0.5, what=f"all {jobs} jobs to finish")
        before_reset = calls_between(fake_api, started, resets_at)
        assert before_reset <= workers, f"{before_reset} Claude calls hit the wall with {workers} workers"
        first_after = min(r.at for r in fake_api.message_requests() if r.at >= resets_at)
        assert first_after - resets_at < 5, f"resumed {first_after - resets_at:.1f}s after the reset"
        assert fleet.failed() == 0
        assert fleet.gate()["state"] == "ready"
        # the jobs that met the wall waited without spending more than that one attempt
        spent = [fleet.job(j).meta.get("spent", {}).get("quota", 0) for j in fleet.finished_ids()]
        assert max(spent) <= 1 and sum(spent) == before_reset


@pytest.mark.story
def test_login_while_paused_resumes_within_three_seconds(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, isolated_env: Path, claude_bin: str
) -> None:
    good = "sk-ant-api-good"
    fake_api.always(Reply.of("auth", accept=good))
    store_credential(isolated_env, CredentialKind.API_KEY, "sk-ant-api-revoked")
    with running_fleet(redis_url, tmp_path, **fast_env(fake_api)) as fleet:
        fleet.start_workers(2)
        fleet.enqueue(4)
        wait_until(lambda: fleet.gate().get("state") == "auth_required", 20, what="auth_required")
        time.sleep(1.0)
        calls_while_paused = len(fake_api.message_requests())
        time.sleep(2.0)
        assert len(fake_api.message_requests()) == calls_while_paused, "paused workers kept calling Claude"

        logged_in = time.time()
        store_credential(isolated_env, CredentialKind.API_KEY, good)  # what `setup` does
        wait_until(lambda: fleet.finished() >= 1, 10, interval=0.05, what="first job after login")
        assert time.time() - logged_in < 3.0
        wait_until(lambda: fleet.finished() == 4, 30, what="all jobs after login")
        assert fleet.gate()["state"] == "ready"


@pytest.mark.story
def test_exhausted_job_fails_with_instructions_then_requeue_succeeds(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, isolated_env: Path, claude_bin: str
) -> None:
    fake_api.always(Reply.of("auth"))
    env = fast_env(fake_api, **API_KEY, CLAUDE_AUTH_RETRY_DELAY="1.5", CLAUDE_AUTH_MAX_RETRIES="3")
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        wait_until(lambda: fleet.failed() == 1, 40, what="the job to fail")
        job = fleet.job(job_id)
        attempts = job.meta["attempts"]
        assert [a["outcome"] for a in attempts] == ["auth_required"] * 3
        assert [a["probe"] for a in attempts] == [False, True, True]
        gaps = [b["started_at"] - a["started_at"] for a, b in itertools.pairwise(attempts)]
        assert all(1.4 <= g <= 4.5 for g in gaps), gaps  # a probe every CLAUDE_AUTH_RETRY_DELAY
        failure = job.latest_result().exc_string
        assert "python -m app.claude_auth_manager setup" in failure
        assert f"claude-workers jobs requeue {job_id}" in failure

        fake_api.always(Reply.success())
        proc = subprocess.run(
            [PYTHON, "-m", "app", "jobs", "requeue", job_id],
            env=cli_env(**fleet.settings_env()),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        # the gate is still closed for auth until its next probe; the requeued job is that probe
        wait_until(lambda: fleet.finished() == 1, 30, what="the requeued job to succeed")
        assert fleet.job(job_id).meta["attempts"][-1]["outcome"] == "ok"


@pytest.mark.story
def test_rate_limit_backs_off_fleet_wide_honouring_retry_after(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.rate_limit(retry_after=3))
    env = fast_env(fake_api, **API_KEY, CLAUDE_RATE_LIMIT_DELAY="1")
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(1)
        fleet.enqueue(3)
        wait_until(lambda: fleet.finished() == 3, 40, what="jobs after the rate limit")
        posts = fake_api.message_requests()
        # the 429 made the CLI announce a retry; we cut it and waited retry-after for the whole fleet
        first_ok = next(r.at for r in posts[1:])
        assert first_ok - posts[0].at >= 2.9
        assert "rate_limited" in fleet.log_text()


@pytest.mark.story
def test_users_own_rq_jobs_obey_the_gate(redis_url: str, tmp_path: Path) -> None:
    from rq import Queue

    from tests.jobs_for_tests import hits_the_wall_until

    with running_fleet(redis_url, tmp_path, CLAUDE_GATE_POLL_INTERVAL="0.2") as fleet:
        fleet.start_workers(2)
        resets_at = time.time() + 6
        counter = f"{fleet.prefix}:calls"
        queue = Queue(fleet.prefix, connection=fleet.conn)
        for _ in range(10):
            queue.enqueue(hits_the_wall_until, resets_at, counter, failure_ttl=-1)
        wait_until(lambda: fleet.finished() == 10, 40, what="the user's jobs")
        calls = [float(t) for t in fleet.conn.lrange(counter, 0, -1)]
        before = [t for t in calls if t < resets_at]
        # at most the two in-flight calls hit the wall; after the reset each job ran once
        assert len(before) <= 2, before
        assert len(calls) - len(before) == 10
        assert fleet.failed() == 0


def test_rq_info_counts_a_retried_job_as_finished_not_failed(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    # one 429 (a short fleet-wide wait and a retry through RQ), then success
    fake_api.then(Reply.rate_limit(retry_after=1))
    env = fast_env(fake_api, **API_KEY, CLAUDE_RATE_LIMIT_DELAY="1")
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        wait_until(lambda: fleet.finished() == 1, 40, what="the job after its retry")
        assert [a["outcome"] for a in fleet.job(job_id).meta["attempts"]] == ["rate_limited", "ok"]
        info = subprocess.run(
            [str(Path(PYTHON).parent / "rq"), "info", "--url", redis_url, "--only-workers", fleet.prefix],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert info.returncode == 0, info.stderr
        assert "jobs: 1 finished, 0 failed" in info.stdout, info.stdout
        # RQ's retry counter is our sentinel, never a budget a reader should see
        assert "999999999" not in fleet.log_text() and "remaining" not in fleet.log_text()
