"""Drive the real compose file on a real Docker engine, as the guide's user does."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.fleet_harness import ports_free

FAKE_API_OVERRIDE = "tests/docker/compose.fake-api.yml"

#: what every Docker story is marked with: it runs only under `make docker-test`, which starts the engine
DOCKER_STORY = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.environ.get("CLAUDE_WORKERS_DOCKER_TESTS") != "1", reason="needs a Docker engine: run `make docker-test`"
    ),
    pytest.mark.timeout(900),
]

#: fast recovery after a SIGKILL or a lost host, so a story takes seconds where production takes a minute
FAST_RECOVERY = {
    "CLAUDE_JOB_MONITORING_INTERVAL": "2",
    "CLAUDE_EXECUTION_GRACE": "4",
    "CLAUDE_MAINTENANCE_INTERVAL": "5",
    "CLAUDE_WORKER_TTL": "20",
    "CLAUDE_GATE_POLL_INTERVAL": "0.2",
    "CLAUDE_SHUTDOWN_GRACE": "5",
}


@contextlib.contextmanager
def brought_down(request: pytest.FixtureRequest, stack: Compose) -> Iterator[Compose]:
    """The stack for one test; taken down after it, with its logs printed if the test failed."""
    failed_before = request.session.testsfailed
    try:
        yield stack
    finally:
        if request.session.testsfailed > failed_before:
            print(stack.dump())  # shown by pytest under "Captured stdout teardown"
        stack.down()


def compose_command() -> list[str]:
    """``docker compose`` (v2) where it exists, else ``docker-compose`` (v1.29, Debian's)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    found = shutil.which("docker-compose")
    if found is None:
        raise RuntimeError(
            "neither `docker compose` nor `docker-compose` is installed (run ../shared/tools/docker-here)"
        )
    return [found]


class Compose:
    """One compose project: the guide's file plus the fake Anthropic API, on its own ports."""

    def __init__(self, *extra_files: str, guide_ports: bool = True, **settings: str) -> None:
        """``guide_ports``: publish on the guide's 8080-8089 and 8000 when they are free (the guide's
        story); False: on ports of the story's own, so stories never wait for each other's ports."""
        self.project = f"cwdocker{uuid.uuid4().hex[:8]}"
        # the guide's ports when they are free here, else the same layout shifted
        guide = [*range(8080, 8090), 8000]
        if guide_ports and ports_free(guide):
            self.health_base, self.api_port, self.fake_port = 8080, 8000, 29000
        elif guide_ports:
            self.health_base, self.api_port, self.fake_port = 28080, 28000, 29000
        else:  # below Linux's ephemeral range (32768-60999): no client socket of this machine can hold them
            self.health_base, self.api_port, self.fake_port = 18080, 18000, 19000
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "ANTHROPIC_", "REDIS_URL"))},
            "COMPOSE_PROJECT_NAME": self.project,
            "CLAUDE_WORKERS_HEALTH_PORTS": f"{self.health_base}-{self.health_base + 9}",
            "CLAUDE_WORKERS_API_PORT": str(self.api_port),
            "FAKE_API_PORT": str(self.fake_port),
            "ANTHROPIC_BASE_URL": "http://fake-anthropic:9000",
            **settings,
        }
        self.base = [*compose_command(), "-f", "docker-compose.yml", "-f", FAKE_API_OVERRIDE]
        for extra in extra_files:
            self.base += ["-f", extra]

    # -- commands --------------------------------------------------------------------
    def run(self, *args: str, stdin: str | None = None, timeout: float = 300, check: bool = True) -> str:
        proc = subprocess.run(
            [*self.base, *args], cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"`{' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr

    def container_ids(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).split()

    def health_status(self) -> dict[str, str]:
        """Each container's name and its Docker health status."""
        statuses = {}
        for cid in self.run("ps", "-q").split():
            out = subprocess.run(
                ["docker", "inspect", "-f", "{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", cid],
                capture_output=True,
                text=True,
            ).stdout.split()
            statuses[out[0].lstrip("/")] = out[1] if len(out) > 1 else "none"
        return statuses

    def logs(self) -> str:
        return self.run("logs", "--no-color", check=False, timeout=60)

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", check=False, timeout=180)
        # Docker releases published ports a moment after `down` returns: wait until nothing of ours is left
        label = f"label=com.docker.compose.project={self.project}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True).stdout
            if not left.strip():
                break
            time.sleep(0.5)

    # -- HTTP ------------------------------------------------------------------------
    def health(self, worker: int, path: str = "/health") -> dict[str, Any] | None:
        """GET path on worker N (1-based) through the guide's port 8080+N-1."""
        try:
            answer = httpx.get(f"http://localhost:{self.health_base + worker - 1}{path}", timeout=5)
            body: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError):
            return None
        # the gateway's own answer while no worker holds the slot yet: not a worker's word
        return None if "error" in body and "worker" not in body else body

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"http://localhost:{self.api_port}{path}", timeout=10, **kw)

    def fake(self, **reply: Any) -> None:
        httpx.post(f"http://127.0.0.1:{self.fake_port}/_fake/reply", json=reply, timeout=5).raise_for_status()

    def fake_bodies(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.fake_port}/_fake/bodies", timeout=10).text

    def fake_message_count(self) -> int:
        return int(httpx.get(f"http://127.0.0.1:{self.fake_port}/_fake/requests", timeout=5).json()["messages"])

    def submit(self, n: int, prompt: str = "say OK") -> list[str]:
        ids = []
        for i in range(n):
            answer = self.api("POST", "/jobs", json={"prompt": f"{prompt} {i}"})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        return ids

    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        return [self.api("GET", f"/jobs/{job_id}").json() for job_id in ids]

    def fake_oauth(self, **setup: Any) -> dict[str, Any]:
        """With arguments: a fresh claude.ai login from the fake's token endpoint; without: its counters."""
        url = f"http://127.0.0.1:{self.fake_port}/_fake/oauth"
        answer = httpx.post(url, json=setup, timeout=5) if setup else httpx.get(url, timeout=5)
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    def network(self) -> str:
        return f"{self.project}_default"

    def dump(self) -> str:
        return json.dumps(self.health_status(), indent=1) + "\n" + self.logs()[-20000:]
