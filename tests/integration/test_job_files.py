"""A kept job's workspace comes back through `claude-workers jobs files` and GET /jobs/{id}/files, and
nothing outside it does."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet, wait_until
from tests.integration.conftest import run_app

pytestmark = pytest.mark.integration


def test_a_kept_workspace_comes_back_and_nothing_outside_it(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, tmp_path: Path, claude_bin: str
) -> None:
    root = Path(fleet.settings_env()["CLAUDE_WORKSPACE_ROOT"])
    created = api.post(
        "/jobs",
        json={
            "prompt": "write the report",
            "engine": "cli",
            "allowed_tools": ["Write"],
            "permission_mode": "acceptEdits",
            "keep_workspace": True,
        },
    ).json()
    job_id = created["id"]
    workspace = root / "jobs" / job_id
    fake_api.always(
        Reply.script(
            ("Write", {"file_path": str(workspace / "report.md"), "content": "# Report\n\nall good\n"}),
            ("Write", {"file_path": str(workspace / "data" / "numbers.csv"), "content": "a,b\n1,2\n"}),
            text="written",
        )
    )
    fleet.start_workers(1)
    view = wait_until(
        lambda: (v := api.get(f"/jobs/{job_id}").json())["status"] in ("finished", "failed") and v, 90, what="the job"
    )
    assert view["status"] == "finished", view
    assert view["result"]["files"]["created"] == ["data/numbers.csv", "report.md"]
    assert view["result"]["workspace_kept"] is True and "+all good" in view["result"]["diff"]
    os.symlink("/etc/passwd", workspace / "escape")  # as an agent with Bash could leave one

    whole = api.get(f"/jobs/{job_id}/files")
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(whole.content)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["report.md"]).read() == b"# Report\n\nall good\n"  # type: ignore[union-attr]
        assert members["escape"].issym(), "a link is sent as a link, never followed"
    one = api.get(f"/jobs/{job_id}/files", params={"path": "data/numbers.csv"})
    with tarfile.open(fileobj=io.BytesIO(one.content)) as tar:
        assert tar.getnames() == ["data/numbers.csv"]
    for outside in ("../../etc/passwd", "/etc/passwd", "escape", "data/../../" + job_id[:4]):
        refused = api.get(f"/jobs/{job_id}/files", params={"path": outside})
        assert refused.status_code == 422 and "outside" in refused.json()["detail"], (outside, refused.text)

    env = cli_env(**fleet.settings_env())
    out = tmp_path / "copy"
    copied = run_app(env, "jobs", "files", job_id[:8], "--out", str(out))
    assert copied.returncode == 0, copied.stderr
    assert (out / "report.md").read_text() == "# Report\n\nall good\n" and (out / "data" / "numbers.csv").exists()
    assert "not copied" in copied.stderr and not (out / "escape").exists()
    traversal = run_app(env, "jobs", "files", job_id, "../../etc/passwd", "--out", str(tmp_path / "nope"))
    assert traversal.returncode == 1 and "outside the job's workspace" in traversal.stderr
    assert "Traceback" not in traversal.stderr


def test_a_workspace_that_was_not_kept_is_a_404_that_says_how_to_keep_one(
    fleet: Fleet, api: httpx.Client, claude_bin: str
) -> None:
    job_id = api.post("/jobs", json={"prompt": "hi", "engine": "api"}).json()["id"]
    fleet.start_workers(1)
    wait_until(lambda: api.get(f"/jobs/{job_id}").json()["status"] == "finished", 60, what="the job")
    gone = api.get(f"/jobs/{job_id}/files")
    assert gone.status_code == 404 and "keep_workspace" in gone.json()["detail"]
