"""The user guide, command for command, with Docker replaced by the local fleet."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CANARY, PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import GUIDE_PORTS, free_port, running_fleet, wait_until

pytestmark = pytest.mark.integration


def get_json(port: int, path: str) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).json()  # type: ignore[no-any-return]


def health_or_none(port: int) -> dict[str, Any] | None:
    try:
        return get_json(port, "/health")
    except httpx.HTTPError:
        return None


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args], env=env, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


@contextlib.contextmanager
def local_fleet(workers: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "app", "up", "--workers", str(workers), "--no-api"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.mark.story  # the guide's whole story; make docker-test plays it on Docker too
@GUIDE_PORTS
def test_guide_scale_out_story_without_docker(
    fake_api: FakeAnthropicAPI, tmp_path: Path, isolated_env: Path, claude_bin: str
) -> None:
    ports = [8080, 8081, 8082]
    env = cli_env(
        CLAUDE_WORKERS_DATA_DIR=str(tmp_path / "data"),
        ANTHROPIC_BASE_URL=fake_api.url,
        CLAUDE_PRELOAD_API_ENGINE="false",
        CLAUDE_GATE_POLL_INTERVAL="0.2",
    )
    log = tmp_path / "up.log"
    outputs: list[str] = []
    with local_fleet(3, env, log) as up:
        # 1. start, 2. check: every worker answers and says it is not authenticated
        healths = wait_until(
            lambda: all(health_or_none(p) for p in ports) and [health_or_none(p) for p in ports],
            40,
            interval=0.3,
            what="three health endpoints",
        )
        assert [h["authenticated"] for h in healths] == [False, False, False]
        assert len({h["worker"] for h in healths}) == 3
        assert all(h["redis"] == "reachable" for h in healths)

        # 3. authenticate once, via any worker
        setup = run_cli("-m", "app.claude_auth_manager", "setup", "--api-key-stdin", env=env, stdin=CANARY + "\n")
        outputs += [setup.stdout, setup.stderr]
        assert setup.returncode == 0, setup.stderr
        assert "Verified" in setup.stdout
        logged_in = time.monotonic()

        # 4. verify: applies to all, within 3 seconds
        wait_until(
            lambda: all((health_or_none(p) or {}).get("authenticated") for p in ports),
            3,
            interval=0.1,
            what="all workers authenticated",
        )
        assert time.monotonic() - logged_in < 3

        status = run_cli("-m", "app.claude_auth_manager", "status", "--json", env=env)
        test = run_cli("-m", "app.claude_auth_manager", "test", "--json", env=env)
        config = run_cli("-m", "app.claude_auth_manager", "config", env=env)
        outputs += [status.stdout, status.stderr, test.stdout, test.stderr, config.stdout, config.stderr]
        status_data, test_data = json.loads(status.stdout), json.loads(test.stdout)
        assert status.returncode == test.returncode == 0
        assert status_data["state"] == test_data["state"] == "ready"
        assert status_data["authenticated"] is True
        assert status_data["credential"]["method"] == "api_key"
        stored = isolated_env / "claude-workers-credential.json"
        assert oct(stored.stat().st_mode & 0o777) == "0o600"
        for port in ports:
            outputs += [
                httpx.get(f"http://127.0.0.1:{port}{p}", timeout=5).text for p in ("/health", "/auth", "/metrics")
            ]
        assert up.poll() is None
    outputs.append(log.read_text())
    # stopped, it is no fleet: no command falls back to whatever Redis listens on 127.0.0.1:6379
    stopped = run_cli("-m", "app", "status", env=env)
    assert_clear_failure(stopped, "no local fleet is running", "claude-workers up")
    leaked = [o for o in outputs if CANARY in o]
    assert not leaked, "the canary secret appeared in an output or log"
    assert "fleet stopped" in log.read_text()


@pytest.mark.story
@GUIDE_PORTS
def test_a_restarted_local_fleet_keeps_its_addresses_and_a_stopped_one_is_no_fleet(
    fake_api: FakeAnthropicAPI, tmp_path: Path, claude_bin: str
) -> None:
    data = tmp_path / "data"
    env = cli_env(CLAUDE_WORKERS_DATA_DIR=str(data), ANTHROPIC_BASE_URL=fake_api.url, CLAUDE_PRELOAD_API_ENGINE="false")
    record = data / "local-fleet.json"
    for n in range(5):
        with local_fleet(2, env, tmp_path / f"up-{n}.log") as up:
            healths = wait_until(
                lambda: all(health_or_none(p) for p in (8080, 8081)), 40, interval=0.2, what=f"run {n}: 8080, 8081"
            )
            assert healths
            assert json.loads(record.read_text()) == {"pid": up.pid, "redis_url": "redis://127.0.0.1:6399/0"}
            assert oct(record.stat().st_mode & 0o777) == "0o600"
            # any command finds the running fleet without REDIS_URL
            status = run_cli("-m", "app", "status", env=env)
            assert status.returncode == 0 and "workers:   2" in status.stdout, status.stdout + status.stderr
            # a second fleet on the same data dir is refused, not started beside the first
            second = run_cli("-m", "app", "up", "--workers", "1", env=env, timeout=30)
            assert_clear_failure(second, "already running", f"pid {up.pid}")
        assert not record.exists(), f"run {n}: the record outlived the fleet"

    # stopped: no command falls back to whatever listens on 127.0.0.1:6379
    for args in (("status",), ("jobs", "show", "abc"), ("submit", "hi"), ("jobs", "list")):
        proc = run_cli("-m", "app", *args, env=env)
        assert_clear_failure(proc, "no local fleet is running", "claude-workers up", "REDIS_URL")
    auth = run_cli("-m", "app.claude_auth_manager", "status", env=env)
    assert "jobs are running" not in auth.stdout + auth.stderr
    # a record left by a fleet that was SIGKILLed is no fleet either
    record.write_text(json.dumps({"pid": 2**22 + 12345, "redis_url": "redis://127.0.0.1:6399/0"}))
    assert_clear_failure(run_cli("-m", "app", "status", env=env), "no local fleet is running")


def test_entrypoint_script_starts_a_worker_without_docker(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    port = free_port()
    config_dir = tmp_path / "fresh-config"
    with running_fleet(redis_url, tmp_path) as fleet:
        env = cli_env(
            **{
                **fleet.settings_env(),
                "HEALTH_PORT": str(port),
                "CLAUDE_CONFIG_DIR": str(config_dir),
                "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}",
            }
        )
        with open(tmp_path / "entry.log", "wb") as out:
            proc = subprocess.Popen(
                [str(ROOT / "docker" / "entrypoint.sh")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        fleet.procs.append(proc)
        health = wait_until(lambda: health_or_none(port), 30, interval=0.2, what="the entrypoint's health server")
        assert health["authenticated"] is False
        assert health["state"] == "auth_required" and health["label"] == "Auth Required"
        assert oct(config_dir.stat().st_mode & 0o777) == "0o700"
        banner = wait_until(
            lambda: "python -m app.claude_auth_manager setup" in (tmp_path / "entry.log").read_text(),
            10,
            what="the setup banner",
        )
        assert banner


@pytest.mark.story
def test_health_answers_while_a_job_runs_and_metrics_gate_the_queue(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.success(delay=4))
    port = free_port()
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-x", "HEALTH_PORT": str(port)}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        busy = wait_until(lambda: (h := health_or_none(port)) and h["current_job"] and h, 20, what="a busy worker")
        assert busy["current_job"] == job_id
        started = time.monotonic()
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        assert time.monotonic() - started < 2, "health was slow while a job ran"
        wait_until(lambda: fleet.finished() == 1, 20, what="the job")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for name in (
            "claude_workers_jobs{",
            "claude_workers_fleet_state{",
            "claude_workers_runnable_queue_depth",
            "claude_workers_quota_reset_timestamp_seconds",
            "claude_workers_job_duration_seconds_count",
            "claude_workers_cost_usd_total",
            "claude_workers_retries_total",
        ):
            assert name in metrics, name
        assert 'claude_workers_jobs{state="finished"} 1.0' in metrics

        # the gate closes: queued work is not runnable, so an autoscaler adds no workers
        fake_api.always(Reply.usage_limit(time.time() + 600))
        fleet.enqueue(3)
        wait_until(lambda: fleet.gate().get("state") == "quota_exceeded", 20, what="quota_exceeded")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "claude_workers_runnable_queue_depth 0.0" in metrics
        assert 'claude_workers_fleet_state{state="quota_exceeded"} 1.0' in metrics
        auth = get_json(port, "/auth")
        assert auth["fleet"]["state"] == "quota_exceeded" and auth["fleet"]["next_probe_in"] > 500


# --- bad input: a clear message, no traceback ------------------------------------------------------


def assert_clear_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in text, text


def test_corrupt_credentials_file(tmp_path: Path, isolated_env: Path) -> None:
    (isolated_env / ".credentials.json").write_text('{"claudeAiOauth": {"accessToken": "abc", "refre')
    env = cli_env(REDIS_URL="redis://127.0.0.1:1/0")
    proc = run_cli("-m", "app.claude_auth_manager", "status", env=env)
    assert proc.returncode == 10
    assert_clear_failure(proc, "not valid JSON", "setup")
    data = json.loads(run_cli("-m", "app.claude_auth_manager", "status", "--json", env=env).stdout)
    assert data["authenticated"] is False and data["redis"] == "unreachable"


def test_unreachable_redis(tmp_path: Path) -> None:
    env = cli_env(REDIS_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    proc = run_cli("-m", "app", "worker", "--redis-wait", "1", env=env)
    assert_clear_failure(proc, "REDIS_URL", "did not answer")
    assert "hunter2" not in proc.stderr


@GUIDE_PORTS
def test_all_health_ports_taken(redis_url: str, tmp_path: Path) -> None:
    held = []
    try:
        for port in range(8080, 8090):
            sock = socket.socket()
            with contextlib.suppress(OSError):  # already taken by someone else: just as good
                sock.bind(("127.0.0.1", port))
                sock.listen()
            held.append(sock)
        proc = run_cli("-m", "app", "worker", env=cli_env(REDIS_URL=redis_url))
        assert_clear_failure(proc, "8080-8089", "HEALTH_PORT")
    finally:
        for sock in held:
            sock.close()


def test_malformed_setting(tmp_path: Path) -> None:
    proc = run_cli("-m", "app", "worker", env=cli_env(CLAUDE_CLI_MAX_RETRIES="lots"))
    assert_clear_failure(proc, "CLAUDE_CLI_MAX_RETRIES")


def test_setup_without_a_terminal_says_how(tmp_path: Path) -> None:
    proc = run_cli("-m", "app.claude_auth_manager", "setup", env=cli_env(), stdin="")
    assert_clear_failure(proc, "--api-key-stdin", "--oauth-token-stdin")


def test_rejected_key_is_not_kept(fake_api: FakeAnthropicAPI, isolated_env: Path, claude_bin: str) -> None:
    fake_api.always(Reply.of("auth"))
    env = cli_env(ANTHROPIC_BASE_URL=fake_api.url, REDIS_URL="redis://127.0.0.1:1/0")
    proc = run_cli("-m", "app.claude_auth_manager", "setup", "--api-key-stdin", env=env, stdin=CANARY)
    assert proc.returncode == 10
    assert_clear_failure(proc, "rejected")
    assert CANARY not in proc.stdout + proc.stderr
    assert not (isolated_env / "claude-workers-credential.json").exists()


def test_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI (.ci/run installs it)")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    proc = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    config = proc.stdout
    # the guide's ports, on this machine only by default: 8080+N is worker N+1 (the health gateway)
    assert "127.0.0.1:8080:8080" in config and "127.0.0.1:8089:8089" in config
    assert "127.0.0.1:8000:8000" in config and "0.0.0.0:" not in config
    assert "claude_config:/root/.config/claude" in config
    assert "appendonly" in config and "service_healthy" in config
    volumes = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--volumes"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    ).stdout.split()
    assert [v for v in volumes if "claude" in v] == ["claude_config"]
