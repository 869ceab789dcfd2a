"""Long agent jobs survive limits: the real CLI resumes its own session in its own workspace after a
usage limit or a killed worker, and the job hands back what it changed (files, diff, a git patch)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import FAST_RECOVERY, Fleet, running_fleet, wait_until
from tests.integration.conftest import run_app

pytestmark = pytest.mark.integration

TURNS = 8
WALL_AT = 5


def writes(n: int, prefix: str = "step") -> list[tuple[str, dict[str, Any]]]:
    """An agent that writes one file per turn, each file naming its step."""
    return [("Write", {"file_path": f"{prefix}-{i:02d}.txt", "content": f"step {i}\n"}) for i in range(n)]


def agent_job(fleet: Fleet, **spec: Any) -> str:
    (job_id,) = fleet.enqueue(
        1,
        prompt="Write the step files, one per turn.",
        engine="cli",
        allowed_tools=["Write", "Read"],
        permission_mode="acceptEdits",
        max_turns=40,
        **spec,
    )
    return job_id


def env(fake: FakeAnthropicAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ANTHROPIC_BASE_URL": fake.url,
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-test",  # a subscription: a 429 with a reset is its usage limit
        "CLAUDE_GATE_POLL_INTERVAL": "0.2",
        "CLAUDE_QUOTA_RESET_JITTER": "0",
        "CLAUDE_WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        **extra,
    }


def absolute(calls: list[tuple[str, dict[str, Any]]], workspace: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(name, {**args, "file_path": str(workspace / args["file_path"])}) for name, args in calls]


@pytest.mark.timeout(180)
def test_a_usage_limit_mid_run_resumes_the_same_session_in_the_same_workspace(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path)) as fleet:
        workspace = tmp_path / "workspaces" / "jobs"
        # the job id names its workspace: queue it first, script the agent with its paths, then start
        job_id = agent_job(fleet)
        calls = absolute(writes(TURNS), workspace / job_id)
        fake_api.always(Reply.script(*calls, text="all steps written", wall_at=WALL_AT, wall_for=4))
        fleet.start_workers(1)
        wait_until(lambda: fleet.finished() == 1, 90, interval=0.3, what="the job to finish after the reset")
        job = fleet.job(job_id)
        result = job.return_value()
        tries = job.meta["attempts"]

    assert [a["outcome"] for a in tries] == ["quota_exceeded", "ok"], tries
    first, second = tries
    assert first["session_id"] and second["resumed_from"] == first["session_id"]
    assert result["session_id"] == first["session_id"], "the resumed run continues the same session"
    assert result["text"] == "all steps written" and result["resumed_from"] == first["session_id"]
    # every step ran once: the wall cost one turn, not a restart from turn 1
    per_session = fake_api.turns_by_session()
    assert per_session[first["session_id"]] <= TURNS + 2, per_session
    assert sorted(result["files"]["created"]) == [f"step-{i:02d}.txt" for i in range(TURNS)]
    assert result["files"]["changed"] == [] and result["files"]["deleted"] == []
    assert "+step 7" in result["diff"] and result["diff_truncated"] is False
    assert not (workspace / job_id).exists(), "a fresh workspace goes when the job has ended"


@pytest.mark.timeout(120)
def test_a_job_canceled_between_attempts_leaves_nothing_on_the_volume(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    root = tmp_path / "workspaces"
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path, CLAUDE_MAINTENANCE_INTERVAL="5")) as fleet:
        job_id = agent_job(fleet)
        workspace, state = root / "jobs" / job_id, root / "state" / job_id
        fake_api.always(Reply.script(*absolute(writes(4), workspace), wall_at=2, resets_at=time.time() + 600))
        fleet.start_workers(1)
        wait_until(
            lambda: (
                [a["outcome"] for a in fleet.job(job_id).meta.get("attempts", [])] == ["quota_exceeded"]
                and fleet.job(job_id).get_status() != "started"
            ),
            60,
            what="the job to wait for its next attempt after the wall",
        )
        assert (workspace / "step-00.txt").exists() and state.is_dir(), "an interrupted job keeps its place"
        # a state dir whose job is gone from Redis is cleared by the next sweep; one whose job may run is not
        stray, not_a_job = root / "state" / "a-job-that-was-deleted", root / "state" / "notes.d"
        stray.mkdir()
        not_a_job.mkdir()
        wait_until(lambda: not stray.exists(), 20, what="the sweep to clear a state dir without a job")
        assert state.is_dir() and workspace.is_dir(), "the sweep took the place of a job that may still run"
        assert not_a_job.is_dir(), "the sweep took a directory that is not named like a job's"

        canceled = run_app(cli_env(**fleet.settings_env()), "jobs", "cancel", job_id)
        assert canceled.returncode == 0, canceled.stderr
        wait_until(
            lambda: not state.exists() and not workspace.exists(), 20, what="the canceled job's place to be cleared"
        )
        said = f"cleared what ended job {job_id} left"
        wait_until(lambda: said in fleet.log_text(), 10, what="the sweep to say what it cleared")
        assert fleet.log_text().count(said) == 1


@pytest.mark.timeout(180)
def test_a_resume_that_lost_its_workspace_starts_fresh_and_says_why(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path)) as fleet:
        job_id = agent_job(fleet)
        workspace = tmp_path / "workspaces" / "jobs" / job_id
        calls = absolute(writes(4), workspace)
        fake_api.always(Reply.script(*calls, text="done", wall_at=2, wall_for=8))  # time to take the workspace away
        fleet.start_workers(1)
        wait_until(lambda: fleet.gate().get("state") == "quota_exceeded", 60, what="the wall")
        # the volume that held the workspace is gone (a pod on another node, a wiped disk)
        wait_until(lambda: workspace.is_dir(), 10, what="the workspace")
        subprocess.run(["rm", "-rf", str(workspace)], check=True)
        wait_until(lambda: fleet.finished() == 1, 90, interval=0.3, what="the job to finish")
        tries = fleet.job(job_id).meta["attempts"]
        result = fleet.job(job_id).return_value()
    assert [a["outcome"] for a in tries] == ["quota_exceeded", "ok"]
    assert tries[1]["fresh_start"] == "the workspace of the interrupted attempt is gone"
    assert "resumed_from" not in tries[1] and result["session_id"] != tries[0]["session_id"]
    assert sorted(result["files"]["created"]) == [f"step-{i:02d}.txt" for i in range(4)]


@pytest.mark.timeout(120)
def test_resume_false_starts_over(fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str) -> None:
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path)) as fleet:
        job_id = agent_job(fleet, resume=False)
        calls = absolute(writes(3), tmp_path / "workspaces" / "jobs" / job_id)
        fake_api.always(Reply.script(*calls, text="done", wall_at=1, wall_for=3))
        fleet.start_workers(1)
        wait_until(lambda: fleet.finished() == 1, 90, interval=0.3, what="the job to finish")
        tries = fleet.job(job_id).meta["attempts"]
    assert tries[1]["fresh_start"] == "resume is off for this job (resume: false)"
    assert tries[1]["session_id"] != tries[0]["session_id"]


@pytest.mark.timeout(120)
def test_a_job_from_a_local_git_repo_returns_a_patch_that_applies_to_its_ref(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    origin = tmp_path / "repos" / "demo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    (origin / "README.md").write_text("# demo\n\nold line\n")
    (origin / "gone.txt").write_text("delete me\n")
    subprocess.run([*git, "-C", str(origin), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-qm", "start"], check=True)
    subprocess.run([*git, "-C", str(origin), "tag", "v1"], check=True)
    (origin / "README.md").write_text("# demo\n\nlater change on main\n")
    subprocess.run([*git, "-C", str(origin), "commit", "-qam", "later"], check=True)

    allowed = {"CLAUDE_WORKERS_ALLOWED_REPOS": str(tmp_path / "repos") + "/"}
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path, **allowed)) as fleet:
        job_id = agent_job(fleet, repo=str(origin), ref="v1")
        workspace = tmp_path / "workspaces" / "jobs" / job_id
        fake_api.always(
            Reply.script(
                ("Write", {"file_path": str(workspace / "README.md"), "content": "# demo\n\nnew line\n"}),
                ("Write", {"file_path": str(workspace / "notes" / "added.txt"), "content": "added\n"}),
                text="edited",
            )
        )
        fleet.start_workers(1)
        wait_until(lambda: fleet.finished() + fleet.failed() == 1, 90, interval=0.3, what="the job to end")
        job = fleet.job(job_id)
        assert fleet.finished() == 1, job.meta
        result = job.return_value()

    assert result["files"]["changed"] == ["README.md"] and result["files"]["created"] == ["notes/added.txt"]
    tag = subprocess.run(["git", "-C", str(origin), "rev-parse", "v1"], capture_output=True, text=True).stdout
    assert result["base_commit"] == tag.strip() and result["commits"] == []
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(origin), str(check)], check=True)
    subprocess.run(["git", "-C", str(check), "checkout", "-q", "v1"], check=True)
    applied = subprocess.run(["git", "-C", str(check), "apply", "-"], input=result["diff"], text=True)
    assert applied.returncode == 0
    assert (check / "README.md").read_text() == "# demo\n\nnew line\n"
    assert (check / "notes" / "added.txt").read_text() == "added\n"


@pytest.mark.story
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_run_is_resumed_by_another_from_where_it_stopped(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    with running_fleet(redis_url, tmp_path, **env(fake_api, tmp_path, **FAST_RECOVERY)) as fleet:
        job_id = agent_job(fleet)
        calls = absolute(writes(TURNS), tmp_path / "workspaces" / "jobs" / job_id)
        fake_api.always(Reply.script(*calls, text="all steps written", delay=0.4))
        victim = fleet.start_worker()
        wait_until(lambda: len(fake_api.message_requests()) >= WALL_AT, 60, interval=0.1, what="turn 5")
        fleet.kill_group(victim)  # SIGKILL: the worker, its job process and the CLI, mid-turn
        fleet.start_worker()
        wait_until(lambda: fleet.finished() == 1, 120, interval=0.3, what="another worker to finish the job")
        job = fleet.job(job_id)
        tries, result = job.meta["attempts"], job.return_value()
    assert [a["outcome"] for a in tries] == ["interrupted", "ok"], tries
    assert tries[1]["resumed_from"] == tries[0]["session_id"] == result["session_id"]
    assert sum(fake_api.turns_by_session().values()) <= TURNS + 3, "a restart would send about 13"
    assert sorted(result["files"]["created"]) == [f"step-{i:02d}.txt" for i in range(TURNS)]
