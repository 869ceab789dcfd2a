"""Fixtures of the API tests: a fleet on the fake API with a token, and an API server process."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fleet_harness import LOG_TAIL, Fleet, free_port, running_fleet, wait_until

TOKEN = "test-api-token-" + "x" * 16


def run_app(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` as a user runs it."""
    return subprocess.run(
        [PYTHON, "-m", "app", *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


@contextlib.contextmanager
def api_server(fleet: Fleet, tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / f"api-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "app", "api", "--port", str(port), *args],
            env=cli_env(**{**fleet.settings_env(), **env}),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    fleet.procs.append(proc)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, interval=0.2, what="the API server")
    yield url, log


@pytest.fixture
def fleet(
    request: pytest.FixtureRequest, fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path
) -> Iterator[Fleet]:
    env = {
        "ANTHROPIC_BASE_URL": fake_api.url,
        "ANTHROPIC_API_KEY": "sk-ant-api-test",
        "CLAUDE_WORKERS_API_TOKEN": TOKEN,
    }
    with running_fleet(redis_url, tmp_path, **env) as running:
        request.node.stash[FLEET] = running
        yield running


FLEET = pytest.StashKey[Fleet]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    fleet = item.stash.get(FLEET, None)
    if fleet is not None and report.failed and call.when == "call":  # type: ignore[attr-defined]
        tail = "\n".join(fleet.log_text().splitlines()[-LOG_TAIL:])  # what the workers said, for a CI failure
        report.sections.append((f"worker logs (last {LOG_TAIL} lines)", tail))  # type: ignore[attr-defined]
    return report


@pytest.fixture
def api(fleet: Fleet, tmp_path: Path) -> Iterator[httpx.Client]:
    with (
        api_server(fleet, tmp_path) as (url, _),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client,
    ):
        yield client


def wait_status(api: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (job := api.get(f"/jobs/{job_id}").json())["status"] in statuses and job,
        timeout,
        interval=0.3,
        what=f"job {job_id} to be {statuses}",
    )
