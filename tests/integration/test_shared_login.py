"""One login for workers on several hosts, through Redis: 3 workers with 3 config dirs stand for 3 hosts.

(The same story on 3 containers with 3 volumes is for the Docker stage.)
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from redis import Redis

from tests.conftest import PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet, free_port, running_fleet, wait_until

pytestmark = pytest.mark.integration

GOOD = "sk-ant-api-shared-across-hosts-0123456789"


def auth_manager(fleet: Fleet, config_dir: Path, *args: str, stdin: str | None = None, **env: str) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "app.claude_auth_manager", *args],
        env=cli_env(**{**fleet.settings_env(), "CLAUDE_CONFIG_DIR": str(config_dir), **env}),
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def authenticated(port: int) -> bool | None:
    try:
        return bool(httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["authenticated"])
    except httpx.HTTPError:
        return None


def every_value(conn: Redis) -> bytes:
    """Every byte Redis holds (strings, hashes, lists, sets, sorted sets), to look for a plaintext secret."""
    found = []
    for key in conn.scan_iter(count=1000):
        kind = conn.type(key).decode()  # type: ignore[union-attr]
        if kind == "string":
            found.append(conn.get(key) or b"")
        elif kind == "hash":
            found += [k + b"=" + v for k, v in conn.hgetall(key).items()]  # type: ignore[union-attr]
        elif kind == "list":
            found += conn.lrange(key, 0, -1)  # type: ignore[arg-type]
        elif kind in ("set", "zset"):
            found += conn.smembers(key) if kind == "set" else conn.zrange(key, 0, -1)  # type: ignore[arg-type]
    return b"\n".join(found)


@pytest.mark.story  # three hosts, a login and a logout; make docker-test plays it across containers too
def test_setup_on_one_host_reaches_every_host_encrypted_and_so_does_a_logout(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.always(Reply.of("auth", accept=GOOD))
    key = Fernet.generate_key().decode()
    hosts = [tmp_path / f"host-{name}" / "config" for name in "abc"]
    ports = [free_port() for _ in hosts]
    with running_fleet(redis_url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url, CLAUDE_WORKERS_SECRET_KEY=key) as fleet:
        for config, port in zip(hosts, ports, strict=True):
            config.mkdir(parents=True)
            fleet.start_worker(CLAUDE_CONFIG_DIR=str(config), HEALTH_PORT=str(port))
        wait_until(lambda: [authenticated(p) for p in ports] == [False] * 3, 30, what="three unauthenticated hosts")

        out = auth_manager(fleet, hosts[0], "setup", "--api-key-stdin", stdin=GOOD + "\n")
        assert "Verified" in out and "Shared with every host through Redis, encrypted" in out
        logged_in = time.monotonic()
        wait_until(lambda: all(authenticated(p) for p in ports), 3, interval=0.1, what="every host authenticated")
        assert time.monotonic() - logged_in < 3
        for config in hosts[1:]:
            stored = config / "claude-workers-credential.json"
            assert oct(stored.stat().st_mode & 0o777) == "0o600" and GOOD in stored.read_text()
        assert GOOD.encode() not in every_value(fleet.conn), "the credential is in Redis in plaintext"

        ids = fleet.enqueue(9)
        wait_until(lambda: fleet.finished() == 9, 60, what="nine jobs on three hosts")
        assert len({fleet.job(i).meta["attempts"][-1]["worker"] for i in ids}) >= 2
        status = auth_manager(fleet, hosts[2], "status")
        assert "shared:         through Redis, encrypted, version 1" in status and GOOD not in status

        # a logout on host B reaches A and C
        out = auth_manager(fleet, hosts[1], "logout")
        assert "Every host drops it too" in out
        wait_until(lambda: not any(authenticated(p) for p in ports), 3, interval=0.1, what="every host logged out")
        assert not any((config / "claude-workers-credential.json").exists() for config in hosts)

        # a host without the key is told which setting it lacks, and never reads the credential
        auth_manager(fleet, hosts[0], "setup", "--api-key-stdin", "--no-verify", stdin=GOOD + "\n")
        keyless = tmp_path / "host-d" / "config"
        keyless.mkdir(parents=True)
        fleet.start_worker(CLAUDE_CONFIG_DIR=str(keyless), CLAUDE_WORKERS_SECRET_KEY="")
        wait_until(
            lambda: "this worker has no CLAUDE_WORKERS_SECRET_KEY" in fleet.log_text(), 20, what="the keyless complaint"
        )
        assert not (keyless / "claude-workers-credential.json").exists()
    assert GOOD not in fleet.log_text()


def test_without_a_key_the_credential_never_reaches_redis(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, isolated_env: Path, claude_bin: str
) -> None:
    fake_api.always(Reply.of("auth", accept=GOOD))
    with running_fleet(redis_url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url) as fleet:
        out = auth_manager(fleet, isolated_env, "setup", "--api-key-stdin", stdin=GOOD + "\n")
        assert "Verified" in out and "Shared" not in out
        assert not fleet.conn.exists(f"{fleet.prefix}:credential")
        assert GOOD.encode() not in every_value(fleet.conn)
        status = auth_manager(fleet, isolated_env, "status")
        assert "shared:         no (this config dir only" in status
        new_key = auth_manager(fleet, isolated_env, "new-key").splitlines()[0]
        Fernet(new_key.encode())  # a valid key
        bad = subprocess.run(
            [PYTHON, "-m", "app.claude_auth_manager", "logout"],
            env=cli_env(**fleet.settings_env(), CLAUDE_WORKERS_SECRET_KEY="not-a-key"),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert bad.returncode == 1 and "not a Fernet key" in bad.stderr and "new-key" in bad.stderr
        assert "Traceback" not in bad.stderr


@pytest.mark.story  # waits out a frozen worker's heartbeat
def test_a_host_frozen_mid_job_loses_nothing_and_rejoins(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    """The no-Docker stand-in for a host cut off the network: SIGSTOP its worker and everything under it."""
    import contextlib
    import os
    import signal

    from tests.fleet_harness import FAST_RECOVERY
    from tests.integration.test_fleet_resilience import descendants

    fake_api.always(Reply.success(delay=0.5))
    hosts = [tmp_path / f"host-{name}" / "config" for name in "abc"]
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "ANTHROPIC_API_KEY": GOOD, **FAST_RECOVERY}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        procs = []
        for config in hosts:
            config.mkdir(parents=True)
            procs.append(fleet.start_worker(CLAUDE_CONFIG_DIR=str(config)))
        wait_until(lambda: fleet.worker_count() == 3, 30, what="three hosts")
        ids = fleet.enqueue(18)
        frozen = procs[1]

        def running_on_b() -> str | None:
            for job_id in ids:
                attempts = fleet.job(job_id).meta.get("attempts", [])
                if attempts and attempts[-1]["outcome"] == "running" and f".{frozen.pid}." in attempts[-1]["worker"]:
                    return job_id
            return None

        victim = wait_until(running_on_b, 30, interval=0.05, what="a job running on host B")
        # the worker, its job process and the CLI each have a process group: freeze every one of them
        host_b = [frozen.pid, *descendants(frozen.pid)]
        for pid in host_b:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        try:
            wait_until(lambda: fleet.finished() >= 18, 120, interval=0.5, what="all 18 jobs with host B frozen")
        finally:
            for pid in host_b:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        attempts = fleet.job(victim).meta["attempts"]
        assert f".{frozen.pid}." in attempts[0]["worker"]
        assert any(a["outcome"] == "ok" and f".{frozen.pid}." not in a["worker"] for a in attempts), attempts
        assert fleet.failed() == 0
        # thawed, host B takes work again
        more = fleet.enqueue(9)
        wait_until(lambda: fleet.finished() >= 27, 60, what="the jobs after the thaw")
        ran_on = {fleet.job(i).meta["attempts"][-1]["worker"] for i in more}
        assert any(f".{frozen.pid}." in w for w in ran_on) or frozen.poll() is None, ran_on
