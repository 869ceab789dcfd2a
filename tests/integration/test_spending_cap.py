"""The fleet's own spending cap closes the gate as budget_exceeded, every surface says so, running
jobs finish, and raising the cap (restarting the workers with it) reopens it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from app.fleet.policy import cap_lifted
from app.fleet.state import FleetState
from tests.conftest import cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import free_port, running_fleet, wait_until
from tests.integration.conftest import api_server, run_app

pytestmark = pytest.mark.integration

COST = (1000 * 3 + 3 * 15) / 1e6  # one job on the fake: 1000 input and 3 output tokens at sonnet prices


def test_the_fleet_cap_closes_the_gate_until_it_is_raised(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path
) -> None:
    fake_api.always(Reply(kind="success", text="paid", input_tokens=1000, delay=0.3))
    env = {
        "ANTHROPIC_BASE_URL": fake_api.url,
        "ANTHROPIC_API_KEY": "sk-ant-api-test",
        "CLAUDE_GATE_POLL_INTERVAL": "0.2",
        "CLAUDE_FLEET_DAILY_BUDGET_USD": str(COST * 1.5),  # the second job passes it
    }
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        ids = fleet.enqueue(4, engine="api")
        port = free_port()
        worker = fleet.start_worker(HEALTH_PORT=str(port))
        gate = wait_until(lambda: fleet.gate().get("state") == "budget_exceeded" and fleet.gate(), 60, what="the cap")
        assert fleet.finished() == 2, "the jobs that started under the cap finished"
        midnight = (time.time() // 86400 + 1) * 86400  # the harness runs in UTC
        assert abs(float(gate["until"]) - midnight) < 2 and "CLAUDE_FLEET_DAILY_BUDGET_USD" in gate["reason"]
        waiting = fleet.job(ids[2])
        assert waiting.meta.get("attempts", []) == [] and waiting.meta.get("deferrals", 0) >= 1

        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health["state"] == "budget_exceeded" and health["label"] == "Budget Exceeded"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'claude_workers_fleet_state{state="budget_exceeded"} 1.0' in metrics
        with api_server(fleet, tmp_path) as (url, _):  # what the dashboard draws its state card from
            view = httpx.get(f"{url}/fleet", timeout=5).json()
        assert view["label"] == "Budget Exceeded" and "CLAUDE_FLEET_DAILY_BUDGET_USD" in view["action"]
        assert view["gate"]["until"] == pytest.approx(midnight, abs=2)
        status = run_app(cli_env(**fleet.settings_env()), "status", "--json")
        assert json.loads(status.stdout)["state"] == "budget_exceeded"
        assert "Budget Exceeded" in run_app(cli_env(**fleet.settings_env()), "status").stdout

        # the operator raises the cap: workers started with it reopen the gate at once
        fleet.kill_group(worker)
        worker.wait()
        fleet.env["CLAUDE_FLEET_DAILY_BUDGET_USD"] = "10"
        fleet.start_worker()
        wait_until(lambda: fleet.finished() == 4, 60, what="the waiting jobs to run")
        assert fleet.gate()["state"] == "ready"


def test_a_raised_cap_makes_the_probe_due_at_once_and_nothing_else_does() -> None:
    closed = FleetState(state="budget_exceeded", until=time.time() + 3600, since=time.time())
    lifted = cap_lifted(closed, now=1000.0)
    assert lifted is not None and lifted.until == 1000.0
    assert cap_lifted(FleetState(state="quota_exceeded", until=time.time() + 60), now=1000.0) is None
