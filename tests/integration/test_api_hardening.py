"""The attacks of an API client with a valid token: each one a 4xx, or data that stays data.

Against a real API server process and a real worker running the real CLI in its sandbox.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet
from tests.integration.conftest import wait_status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]  # several jobs waited on in turn

MARKER_DIR = Path("/tmp")


def attack_values(marker: Path) -> list[str]:
    helper = json.dumps({"apiKeyHelper": f"touch {marker}; echo k"})
    return [
        f"--settings={helper}",
        f"--debug-file={marker}",
        "-p",
        "--dangerously-skip-permissions",
        f"ok\n--settings={helper}",
        f"ok\x00--debug-file={marker}",
        "\ud800",
    ]


STRING_FIELDS = (
    "prompt",
    "system_prompt",
    "append_system_prompt",
    "model",
    "resume_session_id",
    "permission_mode",
    "workspace",
    "idempotency_key",
    "allowed_tools",
    "disallowed_tools",
    "metadata",
)


def body_with(field: str, value: str) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": "say OK"}
    if field in ("allowed_tools", "disallowed_tools"):
        body[field] = [value]
    elif field == "metadata":
        body[field] = {"note": value, value: 1}
    else:
        body[field] = value
    return body


def system_text(body: dict[str, Any] | None) -> str:
    system = (body or {}).get("system") or ""
    return system if isinstance(system, str) else "\n".join(str(b.get("text", "")) for b in system)


def post_raw(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    # json.dumps with ensure_ascii keeps lone surrogates as \ud800 escapes, as an attacker would send
    return api.post("/jobs", content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def test_no_field_becomes_a_flag_or_reaches_a_shell(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, tmp_path: Path, claude_bin: str
) -> None:
    marker = tmp_path / "pwned"
    fleet.start_workers(1)
    accepted: list[tuple[str, str, str]] = []
    for field in STRING_FIELDS:
        for value in attack_values(marker):
            answer = post_raw(api, body_with(field, value))
            assert answer.status_code in (201, 403, 422), (field, value, answer.status_code, answer.text[:200])
            if answer.status_code == 201:
                accepted.append((field, value, answer.json()["id"]))
    # what was accepted is data: it runs, and reaches Claude verbatim where it is text for Claude
    # (a workspace or an idempotency key never reaches the CLI's argv: they name a directory or a key)
    assert {f for f, _, _ in accepted} <= {
        "prompt",
        "system_prompt",
        "append_system_prompt",
        "metadata",
        "idempotency_key",
        "workspace",
    }
    for field, value, job_id in accepted:
        done = wait_status(api, job_id, ("finished", "failed"), timeout=120)
        assert done["status"] == "finished", (field, value, done.get("error"))
        if field == "prompt":
            assert any(value in r.user_text() for r in fake_api.message_requests()), value
        if field in ("system_prompt", "append_system_prompt"):
            assert any(value in system_text(r.body) for r in fake_api.message_requests()), value
    assert not marker.exists(), "an option value was read as a flag"


def test_accepted_means_it_can_run(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    refused: list[tuple[str, bytes]] = [
        ("NUL in the prompt", b'{"prompt": "a\\u0000b"}'),
        ("NUL in the model", b'{"prompt": "x", "model": "sonnet\\u0000"}'),
        ("lone surrogate in metadata", b'{"prompt": "x", "metadata": {"k": "\\ud800"}}'),
        ("NaN timeout", b'{"prompt": "x", "timeout": NaN}'),
        ("Infinity in json_schema", b'{"prompt": "x", "json_schema": {"maximum": Infinity}}'),
        ("tiny timeout", b'{"prompt": "x", "timeout": 1e-300}'),
        ("tiny budget", b'{"prompt": "x", "max_budget_usd": 1e-320}'),
        ("deep metadata", b'{"prompt": "x", "metadata": ' + b'{"a": ' * 30 + b"1" + b"}" * 30 + b"}"),
        ("JSON 900 deep", b'{"prompt": "x", "metadata": ' + b"[" * 900 + b"]" * 900 + b"}"),
        ("JSON 50000 deep", b"[" * 50_000 + b"]" * 50_000),
    ]
    for what, raw in refused:
        answer = api.post("/jobs", content=raw, headers={"content-type": "application/json"})
        assert answer.status_code in (400, 422), (what, answer.status_code, answer.text[:200])
    assert fleet.conn.llen(f"rq:queue:{fleet.prefix}") == 0, "a refused request was queued"
    assert api.get("/jobs").status_code == 200

    # a prompt past Linux's 128 KiB limit for one argv string runs: it goes through stdin
    fleet.start_workers(1)
    big = "x" * 150_000 + " say OK"
    job_id = api.post("/jobs", json={"prompt": big}).json()["id"]
    assert wait_status(api, job_id, ("finished", "failed"), timeout=120)["status"] == "finished"
    assert any(big in r.user_text() for r in fake_api.message_requests())


def test_one_job_per_idempotency_key_under_concurrency(fleet: Fleet, api: httpx.Client) -> None:
    headers = dict(api.headers)

    def post(key: str) -> tuple[int, str]:
        answer = httpx.post(
            f"{str(api.base_url).rstrip('/')}/jobs",
            json={"prompt": "x", "idempotency_key": key},
            headers=headers,
            timeout=30,
        )
        return answer.status_code, answer.json()["id"]

    keys = [f"race-{n}" for n in range(10)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(post, [k for k in keys for _ in range(30)]))
    by_key: dict[str, set[str]] = {}
    for (status, job_id), key in zip(answers, [k for k in keys for _ in range(30)], strict=True):
        assert status in (200, 201)
        by_key.setdefault(key, set()).add(job_id)
    assert all(len(ids) == 1 for ids in by_key.values()), {k: len(v) for k, v in by_key.items()}
    assert sum(1 for status, _ in answers if status == 201) == 10
    assert fleet.conn.llen(f"rq:queue:{fleet.prefix}") == 10


def test_two_requeues_at_once_run_the_job_once(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    fake_api.always(Reply.of("invalid_request"))
    fleet.start_workers(1)
    ids = [api.post("/jobs", json={"prompt": f"bad {n}"}).json()["id"] for n in range(10)]
    for job_id in ids:
        wait_status(api, job_id, ("failed",), timeout=120)
    fake_api.always(Reply.success())
    headers = dict(api.headers)

    def requeue(job_id: str) -> int:
        return httpx.post(
            f"{str(api.base_url).rstrip('/')}/jobs/{job_id}/requeue", headers=headers, timeout=30
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(requeue, [i for i in ids for _ in range(2)]))
    assert sorted(statuses).count(200) == 10 and sorted(statuses).count(409) == 10, statuses
    for job_id in ids:
        done = wait_status(api, job_id, ("finished",), timeout=120)
        assert [a["outcome"] for a in done["attempts"]] == ["failed", "ok"], done["attempts"]
    time.sleep(1)  # a second run, if there were one, would have started by now
    assert all(len(api.get(f"/jobs/{i}").json()["attempts"]) == 2 for i in ids)


SECRET = "private-to-the-first-job-7f3a"


def test_no_workspace_name_reaches_another_jobs_workspace(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    for name in (".", "..", "./jobs", "jobs/..", "jobs/../state", "-x", "a//b", "/jobs"):
        answer = api.post("/jobs", json={"prompt": "x", "workspace": name})
        assert answer.status_code == 422 and "workspace" in answer.text, (name, answer.text[:200])
    root = Path(fleet.settings_env()["CLAUDE_WORKSPACE_ROOT"])
    fleet.start_workers(1)
    tools = {"allowed_tools": ["Write", "Read", "Glob"], "permission_mode": "acceptEdits"}
    first = api.post("/jobs", json={"prompt": "keep a secret", "keep_workspace": True, **tools}).json()["id"]
    mine = root / "jobs" / first
    fake_api.always(Reply.script(("Write", {"file_path": str(mine / "secret.md"), "content": SECRET}), text="kept"))
    assert wait_status(api, first, ("finished", "failed"), timeout=120)["status"] == "finished"
    assert (mine / "secret.md").read_text() == SECRET

    # a second job names the first one's private workspace: it gets a named workspace of that name instead
    fake_api.reset()
    fake_api.always(
        Reply.script(
            ("Glob", {"pattern": "**/*"}),
            ("Read", {"file_path": "secret.md"}),
            ("Read", {"file_path": str(mine / "secret.md")}),
            text="looked",
        )
    )
    second = api.post("/jobs", json={"prompt": "read it", "workspace": f"jobs/{first}", **tools}).json()["id"]
    assert wait_status(api, second, ("finished", "failed"), timeout=120)["status"] == "finished"
    sent = json.dumps([r.body for r in fake_api.message_requests()])
    assert "tool_result" in sent, "the tools did not run"
    assert SECRET not in sent, "a job read another job's private workspace"
    assert (root / "named" / "jobs" / first).is_dir()


def test_what_clients_may_ask_for_is_the_operators_call(fleet: Fleet, api: httpx.Client) -> None:
    refused = [
        ({"allowed_tools": ["Bash"]}, "CLAUDE_WORKERS_ALLOWED_TOOLS"),
        ({"allowed_tools": ["Read", "Bash(git diff:*)"]}, "CLAUDE_WORKERS_ALLOWED_TOOLS"),
        ({"permission_mode": "bypassPermissions"}, "CLAUDE_WORKERS_ALLOWED_PERMISSION_MODES"),
        ({"permission_mode": "auto"}, "CLAUDE_WORKERS_ALLOWED_PERMISSION_MODES"),
        ({"max_turns": 5000}, "CLAUDE_WORKERS_MAX_TURNS"),
        ({"max_budget_usd": 1000}, "CLAUDE_WORKERS_MAX_BUDGET_USD"),
        ({"timeout": 86400 * 2}, "CLAUDE_WORKERS_MAX_TIMEOUT"),
    ]
    for extra, setting in refused:
        answer = api.post("/jobs", json={"prompt": "x", **extra})
        assert answer.status_code == 403 and setting in answer.json()["detail"], (extra, answer.text)
    batch = api.post(
        "/batches",
        json={
            "jobs": [{"custom_id": "a", "prompt": "x"}, {"custom_id": "b", "prompt": "x", "allowed_tools": ["Bash"]}]
        },
    )
    assert batch.status_code == 403 and "'b'" in batch.json()["detail"]
    assert fleet.conn.llen(f"rq:queue:{fleet.prefix}") == 0
    assert (
        api.post(
            "/jobs", json={"prompt": "x", "allowed_tools": ["Read", "Edit"], "permission_mode": "plan"}
        ).status_code
        == 201
    )


def test_random_json_never_gets_a_5xx(fleet: Fleet, api: httpx.Client) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    documents = st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    )
    fields = st.sampled_from([*STRING_FIELDS, "timeout", "max_turns", "max_budget_usd", "json_schema", "engine"])
    bodies = st.one_of(documents, st.dictionaries(fields, documents, min_size=1).map(lambda d: {"prompt": "x", **d}))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    @given(body=bodies)
    def check(body: Any) -> None:
        raw = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        for path in ("/jobs", "/batches"):
            answer = api.post(path, content=raw, headers={"content-type": "application/json"})
            assert answer.status_code < 500, (path, body, answer.text[:300])

    check()
    assert api.get("/jobs").status_code == 200  # and every page of what was queued still renders


def test_a_full_redis_is_reported_as_full(tmp_path: Path) -> None:
    from tests.conftest import cli_env
    from tests.fleet_harness import RedisServer, running_fleet
    from tests.integration.conftest import TOKEN, api_server, run_app

    server = RedisServer(tmp_path / "redis", "--maxmemory", "3mb", "--maxmemory-policy", "noeviction").start()
    try:
        with running_fleet(server.url, tmp_path, CLAUDE_WORKERS_API_TOKEN=TOKEN) as small:
            conn = small.conn
            with contextlib.suppress(redis.exceptions.OutOfMemoryError):
                for n in range(10_000):
                    conn.set(f"filler:{n}", "x" * 10_000)
            with api_server(small, tmp_path) as (url, _):
                answer = httpx.post(f"{url}/jobs", json={"prompt": "x"}, headers={"authorization": f"Bearer {TOKEN}"})
                assert answer.status_code == 507 and "out of memory" in answer.json()["detail"]
            cli = run_app(cli_env(**small.settings_env()), "submit", "hello", timeout=60)
            assert cli.returncode == 1 and "out of memory" in cli.stderr and "Traceback" not in cli.stderr
            conn.flushdb()
    finally:
        server.stop()
