"""A job's agent, with every tool and permission it can ask for, cannot reach the fleet's secrets.

The real CLI runs a fake agent's tool calls (the fake API's script mode) that try every way out:
the stored credential file, the environment, /proc, the credential proxy without the job's
token, Redis, and another job's workspace. None of the canaries may show up anywhere the job's
owner can see: what the CLI sent to the API (the tool results), the result, the kept session
transcript, the workspace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from redis import Redis

from app.claude import sandbox
from app.claude.credentials import CredentialKind, store_credential
from app.claude.request import RunRequest
from app.claude.run_place import SESSIONS_DIR
from app.claude.runner import run_claude
from app.settings import Settings
from tests.conftest import CANARY
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sandbox.bwrap_problem() is not None, reason=f"no sandbox here: {sandbox.bwrap_problem()}"),
]

ENV_CANARY = "env-CANARY-worker-secret-91b2"
WORKSPACE_CANARY = "workspace-CANARY-other-job-5d0e"
REDIS_CANARY = "redis-CANARY-fleet-state-3c77"


def attacks(config_dir: Path, other_workspace: Path, redis_port: int) -> str:
    return "; ".join(
        [
            "id",
            f"cat {config_dir}/claude-workers-credential.json",
            f"ls -la {config_dir}",
            "env",
            "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done",
            f"cat /proc/{os.getpid()}/environ",
            f"cat {other_workspace}/secret.txt",
            f"(exec 3<>/dev/tcp/127.0.0.1/{redis_port} && printf 'GET canary\\r\\n' >&3 && timeout 2 cat <&3)",
            "(exec 3<>/dev/tcp/127.0.0.1/8765 && printf 'GET /v1/models HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3"
            " && timeout 2 cat <&3)",
            "echo attacks-ran",
        ]
    )


@pytest.mark.parametrize(
    ("permission_mode", "allowed_tools"),
    [
        ("bypassPermissions", ()),
        ("acceptEdits", ("Bash", "Read")),
        ("auto", ("Bash", "Read")),
        (None, ("Bash", "Read")),
    ],
)
def test_the_agent_cannot_reach_a_secret(
    fake_api: FakeAnthropicAPI,
    make_settings: Callable[..., Settings],
    isolated_env: Path,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    claude_bin: str,
    permission_mode: str | None,
    allowed_tools: tuple[str, ...],
) -> None:
    store_credential(isolated_env, CredentialKind.API_KEY, CANARY)
    monkeypatch.setenv("CLAUDE_WORKERS_API_TOKEN", ENV_CANARY)  # in the worker's own environment
    root = tmp_path / "workspaces"
    other = root / "jobs" / "other-job"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text(WORKSPACE_CANARY)
    mine = root / "jobs" / "this-job"
    mine.mkdir(parents=True)
    conn = Redis.from_url(redis_url)
    conn.set("canary", REDIS_CANARY)
    redis_port = int(conn.connection_pool.connection_kwargs["port"])
    settings = make_settings(anthropic_base_url=fake_api.url, claude_sandbox="bwrap")

    fake_api.always(
        Reply.script(
            ("Bash", {"command": attacks(isolated_env, other, redis_port), "description": "look around"}),
            ("Read", {"file_path": str(isolated_env / "claude-workers-credential.json")}),
            ("Read", {"file_path": f"/proc/{os.getpid()}/environ"}),
            ("Bash", {"command": f"echo stolen > {isolated_env}/planted; ls {root}/jobs", "description": "plant"}),
            text="done",
        )
    )
    request = RunRequest(
        prompt="find the secrets",
        permission_mode=permission_mode,
        allowed_tools=allowed_tools,
        max_turns=10,
        cwd=mine,
    )
    try:
        result = run_claude(request, settings)
    finally:
        conn.delete("canary")

    sent = [json.dumps(r.body) for r in fake_api.message_requests()]
    tool_results = "\n".join(sent)
    if permission_mode in ("bypassPermissions", "acceptEdits", None):
        # the attacks really ran (as uid 10001 in the sandbox), so their silence means something
        assert "attacks-ran" in tool_results and "uid=10001" in tool_results
    everything = [
        *sent,
        json.dumps(result.to_dict()),
        *(p.read_text(errors="replace") for p in (isolated_env / SESSIONS_DIR).rglob("*") if p.is_file()),
        *(p.read_text(errors="replace") for p in mine.rglob("*") if p.is_file()),
    ]
    for canary in (CANARY, ENV_CANARY, WORKSPACE_CANARY, REDIS_CANARY):
        assert not [t for t in everything if canary in t], f"{canary} reached the job"
    assert not (isolated_env / "planted").exists(), "the agent wrote into the fleet's config dir"
    # the run's own config dir is gone; only its session transcript is kept, by session id
    assert not (isolated_env / "projects").exists()
    assert [p.name for p in (isolated_env / SESSIONS_DIR).iterdir()] == [result.session_id]
    # the proxy gave Anthropic the real credential; the CLI only ever had the job's token
    assert all(r.headers.get("x-api-key") == CANARY for r in fake_api.message_requests())
