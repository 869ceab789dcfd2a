"""A worker that is PID 1 (a container without an init) runs jobs: the guide's Docker containers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fleet_harness import free_port, running_fleet

pytestmark = pytest.mark.integration


def can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not can_unshare(), reason="needs unshare with PID namespaces (root)")
def test_a_worker_that_is_pid_1_finishes_its_job(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "ANTHROPIC_API_KEY": "sk-ant-api-test"}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        [job_id] = fleet.enqueue(1)
        # the worker is the first process of a new PID namespace, as `exec` makes it in a container
        proc = subprocess.run(
            ["unshare", "--fork", "--pid", "--mount-proc", PYTHON, "-m", "app", "worker", "--burst"],
            env=cli_env(**fleet.settings_env(), HEALTH_PORT=str(free_port())),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log
        job = fleet.job(job_id)
        assert job.get_status() == "finished", log
        assert job.return_value()["text"] == "OK"
        assert [a["outcome"] for a in job.meta["attempts"]] == ["ok"]
        assert "Work-horse terminated unexpectedly" not in log
