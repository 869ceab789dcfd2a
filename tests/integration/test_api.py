"""Jobs in, results out: the HTTP API, the CLI, the client and batches, against a running fleet."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CANARY, PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet, free_port
from tests.integration.conftest import TOKEN, api_server, run_app, wait_status

pytestmark = pytest.mark.integration


def test_submit_wait_result_with_cost_and_session(fleet: Fleet, api: httpx.Client, claude_bin: str) -> None:
    fleet.start_workers(1)
    created = api.post("/jobs", json={"prompt": "say OK", "metadata": {"ticket": "T-1"}})
    assert created.status_code == 201
    body = created.json()
    assert body["id"] and body["status"] in ("queued", "started", "finished") and body["created"] is True
    job = wait_status(api, body["id"], ("finished",))
    assert job["result"]["text"] == "OK"
    assert job["result"]["cost_usd"] > 0 and job["result"]["session_id"]
    assert job["result"]["usage"]["output_tokens"] == 3 and job["result"]["num_turns"] == 1
    assert job["metadata"] == {"ticket": "T-1"}
    assert [a["outcome"] for a in job["attempts"]] == ["ok"]
    listed = api.get("/jobs", params={"status": "finished"}).json()
    assert [j["id"] for j in listed["jobs"]] == [body["id"]]
    fleet_view = api.get("/fleet").json()
    assert fleet_view["state"] == "ready" and fleet_view["queues"]["finished"] == 1


def test_idempotency_key_returns_the_same_job(api: httpx.Client) -> None:
    first = api.post("/jobs", json={"prompt": "once", "idempotency_key": "order-42"})
    second = api.post("/jobs", json={"prompt": "once", "idempotency_key": "order-42"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and second.json()["created"] is False
    assert len(api.get("/jobs", params={"status": "queued"}).json()["jobs"]) == 1


def test_cancel_a_queued_job(api: httpx.Client) -> None:
    job_id = api.post("/jobs", json={"prompt": "never mind"}).json()["id"]
    canceled = api.delete(f"/jobs/{job_id}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    again = api.delete(f"/jobs/{job_id}")
    assert again.status_code == 409 and "canceled" in again.json()["detail"]
    assert api.delete("/jobs/no-such-job").status_code == 404


def test_requeue_a_failed_job_that_then_succeeds(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    fake_api.always(Reply.of("invalid_request"))
    fleet.start_workers(1)
    job_id = api.post("/jobs", json={"prompt": "bad request"}).json()["id"]
    failed = wait_status(api, job_id, ("failed",))
    assert "cannot do this job" in failed["error"] and f"claude-workers jobs requeue {job_id}" in failed["error"]
    assert api.post(f"/jobs/{job_id}/requeue").json()["status"] in ("queued", "started", "finished")
    fake_api.always(Reply.success())
    done = wait_status(api, job_id, ("finished",))
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "ok"]
    assert api.post(f"/jobs/{job_id}/requeue").status_code == 409


@pytest.mark.story
def test_batch_of_200_round_trips_by_custom_id(fleet: Fleet, tmp_path: Path, fake_api: FakeAnthropicAPI) -> None:
    fleet.env["CLAUDE_PRELOAD_API_ENGINE"] = "true"  # forked jobs inherit the loaded SDK
    fleet.start_workers(2, CLAUDE_PRELOAD_API_ENGINE="true")
    lines = [json.dumps({"custom_id": f"row-{n:03}", "prompt": f"echo {n}", "engine": "api"}) for n in range(200)]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    env = cli_env(**fleet.settings_env())

    first = run_app(env, "batch", "submit", str(path), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["total"], summary["new"]) == (200, 200)
    again = json.loads(run_app(env, "batch", "submit", str(path), "--json").stdout)
    assert (again["id"], again["new"], again["existing"]) == (summary["id"], 0, 200)

    results = run_app(env, "batch", "results", summary["id"], "--wait")
    assert results.returncode == 0, results.stderr
    rows = [json.loads(line) for line in results.stdout.splitlines()]
    assert [r["custom_id"] for r in rows] == [f"row-{n:03}" for n in range(200)]
    assert {r["status"] for r in rows} == {"finished"}
    assert all(r["result"]["text"] == "OK" for r in rows)
    assert len({r["id"] for r in rows}) == 200
    assert fleet.finished() == 200  # nothing ran twice


def test_bad_input_is_a_4xx_naming_the_field(api: httpx.Client) -> None:
    cases: list[tuple[Any, int, str]] = [
        ({"prompt": "x", "temperature": 2}, 422, "temperature"),
        ({"prompt": 42}, 422, "prompt"),
        ({"prompt": "   "}, 422, "prompt"),
        ({"prompt": "x" * 200_001}, 422, "prompt"),
        ({"prompt": "x", "max_turns": "many"}, 422, "max_turns"),
        ({"prompt": "x", "workspace": "../../etc"}, 422, "workspace"),
        ({"prompt": "x", "workspace": "/etc"}, 422, "workspace"),
        ({"prompt": "x", "engine": "gpt"}, 422, "engine"),
        ({}, 422, "prompt"),
    ]
    for body, status, needle in cases:
        response = api.post("/jobs", json=body)
        assert response.status_code == status, (body, response.text[:300])
        assert needle in response.text, (body, response.text[:300])
    raw = api.post("/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 422
    huge = api.post("/jobs", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413
    assert api.get("/jobs", params={"status": "lost"}).status_code == 422
    assert api.get("/jobs", params={"limit": 0}).status_code == 422
    assert api.get("/jobs", params={"cursor": "garbage"}).status_code == 409


def test_token_is_required_when_configured(api: httpx.Client) -> None:
    url = str(api.base_url).rstrip("/") + "/jobs"
    bare = httpx.get(url, timeout=5)
    assert bare.status_code == 401 and "Bearer" in bare.json()["detail"]
    wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    blank = httpx.get(url, headers={"Authorization": "Bearer"}, timeout=5)
    assert blank.status_code == 401
    assert api.get("/jobs").status_code == 200


def test_without_a_token_the_api_binds_loopback_only_and_says_so(fleet: Fleet, tmp_path: Path) -> None:
    fleet.env["CLAUDE_WORKERS_API_TOKEN"] = ""
    with api_server(fleet, tmp_path, "--host", "0.0.0.0", CLAUDE_WORKERS_API_TOKEN="") as (url, log):
        port = url.rsplit(":", 1)[1]
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
        assert "127.0.0.1 only" in log.read_text()
        assert httpx.get(f"{url}/jobs", timeout=5).status_code == 200
        # DNS rebinding: a page served under another name reaches 127.0.0.1 but is refused
        rebound = httpx.get(f"{url}/jobs", headers={"host": "attacker.example"}, timeout=5)
        assert rebound.status_code == 403 and "localhost" in rebound.json()["detail"]
        assert httpx.get(f"{url}/jobs", headers={"host": f"localhost:{port}"}, timeout=5).status_code == 200


def test_published_beyond_this_machine_without_a_token_the_api_refuses_to_start(fleet: Fleet) -> None:
    env = cli_env(
        **{**fleet.settings_env(), "CLAUDE_WORKERS_API_TOKEN": "", "CLAUDE_WORKERS_API_PUBLISHED_ON": "0.0.0.0"}
    )
    proc = run_app(env, "api", "--host", "0.0.0.0", "--port", str(free_port()), timeout=30)
    assert proc.returncode == 1
    assert "CLAUDE_WORKERS_API_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.story
def test_openapi_fuzzing_every_check_passes(fleet: Fleet) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from app.api.app import create_app
    from app.settings import Settings

    app_settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.lower(): v for k, v in fleet.settings_env().items()},
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))
    failures: list[str] = []

    def fuzz(op: Any) -> None:
        # derandomized: the same examples every run, so a CI failure is a regression, never luck
        @settings(
            max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
            try:
                # every check (no 5xx, status codes, content types, response schemas, negative data
                # refused) but one: positive_data_acceptance, because metadata's limits (no NUL or
                # lone surrogate in its keys, 20 levels deep) are not expressible in JSON Schema
                case.call_and_validate(excluded_checks=[positive_data_acceptance])
            except Exception as exc:
                failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:300]}")

        check()

    # /events streams until the client leaves; tests/integration/test_events.py covers it
    operations = [op for op in (o.ok() for o in schema.get_all_operations()) if op.path != "/events"]
    assert len(operations) >= 9
    for op in operations:
        fuzz(op)
    assert not failures, failures[:5]


def test_cli_submit_wait_prints_the_result(fleet: Fleet, claude_bin: str) -> None:
    fleet.start_workers(1)
    env = cli_env(**fleet.settings_env())
    done = run_app(env, "submit", "say OK", "--wait", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
    job = json.loads(run_app(env, "submit", "say OK", "--json", timeout=60).stdout)
    assert job["id"] and job["spec"]["prompt"] == "say OK"
    status = json.loads(run_app(env, "status", "--json", timeout=60).stdout)
    assert status["state"] == "ready" and len(status["workers"]) == 1
    listed = json.loads(run_app(env, "jobs", "list", "--json", timeout=60).stdout)
    assert job["id"] in {j["id"] for j in listed["jobs"]}
    bad = run_app(env, "submit", "x", "--max-turns", "0", timeout=60)
    assert bad.returncode == 2 and "max-turns" in bad.stderr and "Traceback" not in bad.stderr


def test_client_example_runs(fleet: Fleet, tmp_path: Path, claude_bin: str) -> None:
    fleet.start_workers(2)
    with api_server(fleet, tmp_path) as (url, _):
        env = cli_env(**fleet.settings_env(), CLAUDE_WORKERS_API_URL=url)
        proc = subprocess.run(
            [PYTHON, str(ROOT / "docs" / "examples" / "client_example.py")],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr
        assert re.search(r": finished: 'OK' cost \$0\.\d{6}\n", proc.stdout), proc.stdout  # not $0.00010400000000000001
        assert [line.split()[0] for line in proc.stdout.splitlines()[1:]] == [f"greeting-{n}" for n in range(3)]
        assert CANARY not in proc.stdout
        # the example's jobs really ran on the fleet: one finished job per line it printed
        assert fleet.finished() == len(proc.stdout.splitlines())
