"""What the CLI prints: tables and the README's symbols on a terminal, stable plain lines when piped,
id prefixes wherever an id is asked for, and one login banner per fleet in the words of where it runs."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import PYTHON, ROOT, cli_env
from tests.fleet_harness import Fleet, running_fleet, wait_until
from tests.integration.conftest import run_app

pytestmark = pytest.mark.integration

SCRIPT = shutil.which("script")


def on_a_terminal(env: dict[str, str], *args: str) -> str:
    """``claude-workers ARGS`` under a pseudo-terminal (util-linux ``script``), as a person sees it."""
    command = shlex.join([PYTHON, "-m", "app", *args])
    done = subprocess.run(
        [str(SCRIPT), "-qec", command, "/dev/null"],
        env={**env, "COLUMNS": "160", "TERM": "xterm-256color"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stdout)  # colours off, to read the words


def test_piped_output_is_plain_with_headers_times_and_cost(fleet: Fleet, claude_bin: str) -> None:
    fleet.start_workers(1)
    env = cli_env(**fleet.settings_env())
    done = run_app(env, "submit", "say OK", "--wait", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"  # the result alone on stdout, for pipes
    summary = re.search(r"job ([0-9a-f]{32}) finished in [0-9.]+s, 1 attempt\(s\), cost \$0\.[0-9]+", done.stderr)
    assert summary, done.stderr
    job_id = summary.group(1)

    listed = run_app(env, "jobs", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "STATUS", "SUBMITTED", "TOOK", "ATT", "COST", "PROMPT"]
    assert listed[1].startswith(job_id) and "finished" in listed[1] and "say OK" in listed[1]
    assert "\x1b[" not in "\n".join(listed) and "✅" not in "\n".join(listed)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", listed[1]) and "$0.0" in listed[1]

    shown = run_app(env, "jobs", "show", job_id[:8]).stdout  # a prefix stands for the job
    assert f"job {job_id}" in shown
    for field in ("status:", "submitted:", "started:", "ended:", "worker:", "cost:"):
        assert field in shown, shown
    assert "attempt 1: ok at" in shown and shown.rstrip().endswith("OK")


@pytest.mark.skipif(SCRIPT is None, reason="needs util-linux `script` for a pseudo-terminal")
def test_on_a_terminal_status_has_the_readme_symbols_and_jobs_a_table(fleet: Fleet, claude_bin: str) -> None:
    fleet.start_workers(1)
    env = cli_env(**fleet.settings_env())
    (job_id,) = fleet.enqueue(1)
    wait_until(lambda: fleet.finished() == 1, 60, what="the job")
    status = on_a_terminal(env, "status")
    assert "✅ Ready" in status, status
    assert re.search(r"worker\s+[┃│]\s+state", status), status  # a table with headers
    table = on_a_terminal(env, "jobs", "list")
    assert re.search(r"id\s+[┃│]\s+status\s+[┃│]\s+submitted", table), table
    assert job_id in table and "finished" in table
    shown = on_a_terminal(env, "jobs", "show", job_id[:10])
    assert f"job {job_id}" in shown and "outcome" in shown and "OK" in shown


def test_id_prefixes_work_everywhere_and_an_ambiguous_one_lists_the_candidates(fleet: Fleet, tmp_path: Path) -> None:
    from rq import Queue

    from tests.integration.conftest import TOKEN, api_server

    env = cli_env(**fleet.settings_env())
    queue = Queue(fleet.prefix, connection=fleet.conn)
    a, b = "deadbeef01" + "0" * 22, "deadbeef02" + "0" * 22
    for job_id in (a, b):  # no worker runs: they stay queued
        queue.enqueue("builtins.print", job_id=job_id)
    other = Queue(f"{fleet.prefix}-other", connection=fleet.conn)
    other.enqueue("builtins.print", job_id="deadbeef03" + "0" * 22)  # another deployment's: never a candidate

    ambiguous = run_app(env, "jobs", "show", "deadbeef")
    assert ambiguous.returncode == 1 and "Traceback" not in ambiguous.stderr
    assert "'deadbeef' starts 2 job ids" in ambiguous.stderr and a in ambiguous.stderr and b in ambiguous.stderr
    assert "deadbeef03" not in ambiguous.stderr
    assert json.loads(run_app(env, "jobs", "show", "deadbeef01", "--json").stdout)["id"] == a
    canceled = run_app(env, "jobs", "cancel", "deadbeef01")
    assert canceled.returncode == 0 and a in canceled.stdout
    assert "No job 'deadbeef03'" in run_app(env, "jobs", "show", "deadbeef03").stderr
    short = run_app(env, "jobs", "show", "dead")
    assert short.returncode == 1 and "first 6 characters" in short.stderr

    with api_server(fleet, tmp_path) as (url, _):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{url}/jobs/deadbeef02", headers=headers).json()["id"] == b
        requeued = httpx.post(f"{url}/jobs/deadbeef01/requeue", headers=headers)
        assert requeued.status_code == 200 and requeued.json()["id"] == a
        both = httpx.get(f"{url}/jobs/deadbeef", headers=headers)
        assert both.status_code == 409 and a in both.json()["detail"] and b in both.json()["detail"]
        assert httpx.get(f"{url}/jobs/dead", headers=headers).status_code == 404


def test_one_login_banner_per_fleet_in_the_words_of_this_machine(redis_url: str, tmp_path: Path) -> None:
    with running_fleet(redis_url, tmp_path) as fleet:
        fleet.start_workers(3)
        wait_until(lambda: fleet.log_text().count("credentials: none yet") == 2, 20, what="the other workers' line")
        logs = fleet.log_text()
    assert logs.count("Claude is not authenticated") == 1, logs
    assert "docker compose exec" not in logs  # not in a container here
    assert "     python -m app.claude_auth_manager setup" in logs


def test_without_a_credential_every_surface_says_auth_required(
    redis_url: str, tmp_path: Path, isolated_env: Path
) -> None:
    from tests.fleet_harness import free_port

    port = free_port()
    with running_fleet(redis_url, tmp_path, HEALTH_PORT=str(port)) as fleet:
        fleet.start_workers(1)
        env = cli_env(**fleet.settings_env())

        def everywhere() -> list[str]:
            status = json.loads(run_app(env, "status", "--json").stdout)
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            exported = re.search(r'claude_workers_fleet_state\{state="(\w+)"\} 1\.0', metrics)
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            return [status["state"], status["label"], exported.group(1) if exported else "", health["state"]]

        assert wait_until(
            lambda: everywhere() == ["auth_required", "Auth Required", "auth_required", "auth_required"],
            10,
            what="auth_required on every surface",
        )
        plain = run_app(env, "status").stdout
        assert "fleet:     Auth Required (no worker has a Claude credential)" in plain, plain
        # a login anywhere: every surface says ready again
        login = subprocess.run(
            [PYTHON, "-m", "app.claude_auth_manager", "setup", "--api-key-stdin", "--no-verify"],
            env=env,
            input="sk-ant-api-later\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert login.returncode == 0, login.stderr
        wait_until(lambda: everywhere() == ["ready", "Ready", "ready", "ready"], 5, what="ready on every surface")
