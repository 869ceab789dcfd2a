"""Three hosts, one login, on a real Docker engine: three worker containers, each with a config volume of
its own, one Redis. The login travels through Redis (encrypted); a host cut off the network mid-job
loses nothing; a claude.ai login is refreshed once per expiry for all three.

Runs with ``make docker-test`` (CI does). ``make test`` runs the same stories without Docker
(tests/integration/test_shared_login.py, test_login_refresh.py).
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.conftest import ROOT
from tests.docker.compose_harness import DOCKER_STORY, FAST_RECOVERY, Compose, brought_down
from tests.docker.test_guide_story import all_workers, finished, wait_for

pytestmark = DOCKER_STORY

API_KEY = "sk-ant-three-hosts-key"
HOSTS = ("worker", "worker-b", "worker-c")
TOKEN_LIFETIME = 30.0  # the story: tokens that expire every 30 s, for 3 minutes
REFRESH_MARGIN = 6.0
REFRESH_STORY_S = 180.0


def three_hosts_override(path: Path) -> str:
    """worker-b and worker-c: the compose file's worker, each with volumes of its own."""
    worker = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    services = {}
    for host in ("b", "c"):
        clone = {key: value for key, value in worker.items() if key != "build"}
        clone["volumes"] = [f"config_{host}:/root/.config/claude", f"workspaces_{host}:/workspaces"]
        services[f"worker-{host}"] = clone
    volumes = {f"{kind}_{host}": {} for kind in ("config", "workspaces") for host in "bc"}
    path.write_text(yaml.safe_dump({"services": services, "volumes": volumes}))
    return str(path)


@pytest.fixture
def compose(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Compose]:
    stack = Compose(
        three_hosts_override(tmp_path / "compose.three-hosts.yml"),
        guide_ports=False,
        CLAUDE_WORKERS_SECRET_KEY=Fernet.generate_key().decode(),
        CLAUDE_OAUTH_TOKEN_URL="http://fake-anthropic:9000/v1/oauth/token",
        CLAUDE_OAUTH_REFRESH_MARGIN=str(REFRESH_MARGIN),
        **FAST_RECOVERY,
    )
    with brought_down(request, stack):
        yield stack


def auth_manager(compose: Compose, host: str, *args: str, stdin: str | None = None) -> str:
    return compose.run("exec", "-T", host, "python", "-m", "app.claude_auth_manager", *args, stdin=stdin)


def container(compose: Compose, host: str) -> str:
    [cid] = compose.container_ids(host)
    return cid


def hostname(compose: Compose, host: str) -> str:
    return compose.run("exec", "-T", host, "hostname").strip()


def job_on(compose: Compose, host_name: str) -> str | None:
    """The job the worker of ``host_name`` runs now (one GET /fleet: quick enough to catch it mid-run)."""
    for worker in compose.api("GET", "/fleet").json()["workers"]:
        if str(worker["name"]).startswith(host_name + ".") and worker["current_job"]:
            return str(worker["current_job"])
    return None


def test_three_hosts_share_one_login_survive_a_network_cut_and_refresh_once(compose: Compose) -> None:
    compose.run("up", "-d", timeout=300)
    wait_for(lambda: all_workers(compose, 3, "authenticated", False), 90, "three unauthenticated hosts")

    # setup once, on host A: B and C have it within 3 s, each in its own volume
    out = auth_manager(compose, "worker", "setup", "--api-key-stdin", stdin=API_KEY + "\n")
    assert "Verified" in out and "Shared with every host through Redis, encrypted" in out, out
    logged_in = time.monotonic()
    wait_for(lambda: all_workers(compose, 3, "authenticated", True), 3, "all three hosts authenticated", 0.1)
    assert time.monotonic() - logged_in < 3
    for host in HOSTS[1:]:
        owner = compose.run(
            "exec", "-T", host, "stat", "-c", "%a %U", "/root/.config/claude/claude-workers-credential.json"
        )
        assert owner.split() == ["600", "claude"], owner
    redis_dump = compose.run("exec", "-T", "redis", "redis-cli", "--no-raw", "hgetall", "claude-workers:credential")
    assert "version" in redis_dump and API_KEY not in redis_dump

    # 60 jobs; host B is cut off the network while it runs one
    compose.fake(kind="success", delay=4.0)  # long enough that B is mid-job when the (slow) disconnect lands
    ids = compose.submit(60, "three hosts")
    b_name = hostname(compose, "worker-b")

    def running_on_b() -> str | None:
        """A job host B runs now with its attempt recorded (B moves on every 4 s: look again until both hold)."""
        job = job_on(compose, b_name)
        if job is None:
            return None
        attempts = compose.api("GET", f"/jobs/{job}").json()["attempts"]
        on_b = bool(attempts) and attempts[-1]["outcome"] == "running" and attempts[-1]["worker"].startswith(b_name)
        return job if on_b else None

    victim = wait_for(running_on_b, 60, "a job running on host B, its attempt recorded", interval=0.05)
    subprocess.run(["docker", "network", "disconnect", compose.network(), container(compose, "worker-b")], check=True)
    try:
        views = wait_for(lambda: finished(compose, ids), 240, "all 60 jobs with host B cut off", interval=1)
    finally:
        subprocess.run(["docker", "network", "connect", compose.network(), container(compose, "worker-b")], check=True)
    assert len(views) == 60 and {v["status"] for v in views} == {"finished"}
    [moved] = [v for v in views if v["id"] == victim]
    # it began on B and finished elsewhere; a late second finish on B would be listed too, never hidden
    assert moved["attempts"][0]["worker"].startswith(b_name + ".")
    assert any(a["outcome"] == "ok" and not str(a["worker"]).startswith(b_name + ".") for a in moved["attempts"]), (
        moved["attempts"]
    )
    # host B rejoins: it answers health again and takes jobs
    wait_for(lambda: b_name in json.dumps(compose.api("GET", "/fleet").json()["workers"]), 120, "host B back")

    # a claude.ai login whose access token lives 30 s: one refresh per expiry for the three hosts
    login = compose.fake_oauth(expires_in=TOKEN_LIFETIME, strict=True)
    compose.run("exec", "-T", "worker", "sh", "-c", "cat > /tmp/login.json", stdin=json.dumps(login))
    out = auth_manager(compose, "worker", "setup", "--login-file", "/tmp/login.json")
    assert "Verified" in out and "Shared with every host" in out, out
    compose.fake(kind="success", delay=0.2)
    started = time.time()
    ids = []
    while time.time() - started < REFRESH_STORY_S:
        ids += compose.submit(3, "refresh")
        batch = list(ids)
        wait_for(lambda batch=batch: finished(compose, batch), 60, "the jobs so far", interval=0.5)
    elapsed = time.time() - started
    counters = compose.fake_oauth()
    assert counters["invalid_grants"] == 0, counters
    most = math.ceil((elapsed + TOKEN_LIFETIME) / (TOKEN_LIFETIME - REFRESH_MARGIN - 1))
    assert 3 <= counters["refreshes"] <= most, (counters, most)
    outcomes = [a["outcome"] for v in compose.jobs(ids) for a in v["attempts"]]
    assert set(outcomes) == {"ok"}, outcomes
    logs = compose.logs()
    assert API_KEY not in logs and login["claudeAiOauth"]["refreshToken"] not in logs
