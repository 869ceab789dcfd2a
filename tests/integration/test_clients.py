"""Several clients on one fleet, through the real API, CLI, workers and Redis: each sees only its own
jobs, limits hold under concurrency, budgets refuse and hold, a revoked key is refused at once."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet, wait_until
from tests.integration.conftest import api_server, run_app

pytestmark = pytest.mark.integration


def add_client(fleet: Fleet, name: str, *limits: str) -> str:
    made = run_app(cli_env(**fleet.settings_env()), "clients", "add", name, *limits, "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["name"] == name and created["key"].startswith("cwk_")
    return str(created["key"])


def as_client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_a_client_sees_only_its_own_jobs_and_batches_and_ids_do_not_leak(
    fleet: Fleet, api: httpx.Client, tmp_path: Path
) -> None:
    a_key, b_key = add_client(fleet, "team-a"), add_client(fleet, "team-b")
    url = str(api.base_url)
    with as_client(url, a_key) as a, as_client(url, b_key) as b:
        mine = a.post("/jobs", json={"prompt": "A's secret plan", "engine": "api"}).json()
        job_id = mine["id"]
        assert mine["job"]["client"] == "team-a"
        assert b.get(f"/jobs/{job_id}").status_code == 404
        assert b.get(f"/jobs/{job_id[:8]}").status_code == 404
        assert b.delete(f"/jobs/{job_id}").status_code == 404
        assert b.post(f"/jobs/{job_id}/requeue").status_code == 404
        assert b.get(f"/jobs/{job_id}/files").status_code == 404
        assert b.get("/events", params={"job": job_id}).status_code == 404
        assert b.get(f"/jobs/{job_id}").json()["detail"] == a.get("/jobs/nonexistent0000").json()["detail"].replace(
            "nonexistent0000", job_id
        ), "another's job reads exactly like no job"
        assert [j["id"] for j in b.get("/jobs").json()["jobs"]] == []
        assert [j["id"] for j in a.get("/jobs").json()["jobs"]] == [job_id]
        assert job_id in [j["id"] for j in api.get("/jobs").json()["jobs"]], "the operator sees every job"

        made = a.post("/batches", json={"jobs": [{"custom_id": "x", "prompt": "hi", "engine": "api"}]}).json()
        assert made["id"].startswith("team-a.")
        assert b.get(f"/batches/{made['id']}").status_code == 404
        assert b.get(f"/batches/{made['id']}/results").status_code == 404
        assert b.get("/batches").json()["batches"] == []
        assert [x["id"] for x in a.get("/batches").json()["batches"]] == [made["id"]]
        # the same idempotency key from two clients makes two jobs
        one = a.post("/jobs", json={"prompt": "p", "engine": "api", "idempotency_key": "k1"}).json()
        two = b.post("/jobs", json={"prompt": "p", "engine": "api", "idempotency_key": "k1"}).json()
        assert one["id"] != two["id"] and one["created"] and two["created"]


def walk(client: httpx.Client, limit: int) -> list[str]:
    """Every job id a client's pages list, following next_cursor to the end."""
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/jobs", params={"limit": limit, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["jobs"]) <= limit, page
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_pages_list_every_job_once_for_the_operator_and_for_a_client(fleet: Fleet, api: httpx.Client) -> None:
    a_key, b_key = add_client(fleet, "team-a"), add_client(fleet, "team-b")
    with as_client(str(api.base_url), a_key) as a, as_client(str(api.base_url), b_key) as b:
        mine: list[str] = []
        theirs: list[str] = []
        for i in range(12):  # each of A's jobs among 20 of B's: A's pages read past hundreds of others
            mine.append(a.post("/jobs", json={"prompt": f"a{i}", "engine": "api"}).json()["id"])
            theirs += [b.post("/jobs", json={"prompt": f"b{i}.{n}", "engine": "api"}).json()["id"] for n in range(20)]
        for job_id in (mine[0], mine[5], theirs[3]):  # the pages cross from the queue to the canceled jobs
            assert api.delete(f"/jobs/{job_id}").status_code == 200
        for limit in (1, 5, 50):
            listed = walk(a, limit)
            assert sorted(listed) == sorted(mine) and len(set(listed)) == len(listed), limit
        everything = walk(api, 7)
        assert sorted(everything) == sorted(mine + theirs) and len(set(everything)) == len(everything)
        assert walk(b, 100)[-1] == theirs[3], "canceled jobs come after queued ones"


def session_of(client: httpx.Client, job_id: str) -> str:
    view = wait_until(
        lambda: (v := client.get(f"/jobs/{job_id}").json())["status"] in ("finished", "failed") and v, 90, what=job_id
    )
    assert view["status"] == "finished", view
    return str(view["result"]["session_id"])


def test_a_client_resumes_only_its_own_sessions(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    a_key, b_key = add_client(fleet, "team-a"), add_client(fleet, "team-b")
    fleet.start_workers(1)
    with as_client(str(api.base_url), a_key) as a, as_client(str(api.base_url), b_key) as b:
        theirs = session_of(a, a.post("/jobs", json={"prompt": "the plan is 7", "engine": "cli"}).json()["id"])
        operators = session_of(api, api.post("/jobs", json={"prompt": "ops", "engine": "cli"}).json()["id"])
        made_up = "0b8e2c1e-7a51-4c39-9d1e-5f0f4f3f2a10"
        answers = {}
        for who, session in ((b, theirs), (a, operators), (b, made_up)):
            refused = who.post("/jobs", json={"prompt": "go on", "resume_session_id": session})
            assert refused.status_code == 422, refused.text
            answers[session] = refused.json()["detail"].replace(session, "<id>").replace("team-a", "team-b")
        assert len(set(answers.values())) == 1, "another client's session reads exactly like one that does not exist"
        items = [{"custom_id": "x", "prompt": "hi"}, {"custom_id": "y", "prompt": "go on", "resume_session_id": theirs}]
        batch = b.post("/batches", json={"jobs": items})
        assert batch.status_code == 422 and "'y'" in batch.json()["detail"], batch.text
        assert fleet.conn.llen(f"rq:queue:{fleet.prefix}") == 0, "a refused request was queued"

        # its owner and the operator may resume it, and it is the same session
        for who in (a, api):
            resumed = who.post("/jobs", json={"prompt": "go on", "resume_session_id": theirs, "engine": "cli"})
            assert resumed.status_code == 201, resumed.text
            assert session_of(who, resumed.json()["id"]) == theirs

        # every client sees the fleet's state, but what it spent itself, and not which jobs run
        fleet_view, a_view, b_view = (who.get("/fleet").json() for who in (api, a, b))
        assert a_view["state"] == b_view["state"] == fleet_view["state"]
        assert b_view["spend"]["today_usd"] == 0 < a_view["spend"]["today_usd"] < fleet_view["spend"]["today_usd"]
        assert all(w["current_job"] is None for w in a_view["workers"] + b_view["workers"])


def test_one_clients_named_workspace_is_not_anothers(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    a_key, b_key = add_client(fleet, "team-a"), add_client(fleet, "team-b")
    root = Path(fleet.settings_env()["CLAUDE_WORKSPACE_ROOT"])
    tools = {"workspace": "reports", "allowed_tools": ["Write", "Read", "Glob"], "permission_mode": "acceptEdits"}
    secret = "team-a-only-3b9c"
    fleet.start_workers(1)
    with as_client(str(api.base_url), a_key) as a, as_client(str(api.base_url), b_key) as b:
        mine = root / "clients" / "team-a" / "reports"
        fake_api.always(Reply.script(("Write", {"file_path": str(mine / "plan.md"), "content": secret}), text="saved"))
        session_of(a, a.post("/jobs", json={"prompt": "save the plan", **tools}).json()["id"])
        assert (mine / "plan.md").read_text() == secret

        # team-b's "reports" is its own: the file is not there, nor reachable by its path
        fake_api.reset()
        looks = (("Glob", {"pattern": "**/*"}), ("Read", {"file_path": "plan.md"}))
        fake_api.always(Reply.script(*looks, ("Read", {"file_path": str(mine / "plan.md")}), text="looked"))
        session_of(b, b.post("/jobs", json={"prompt": "read the plan", **tools}).json()["id"])
        sent = json.dumps([r.body for r in fake_api.message_requests()])
        assert "tool_result" in sent and secret not in sent, "one client read another's named workspace"
        assert (root / "clients" / "team-b" / "reports").is_dir() and not (root / "named" / "reports").exists()

        # while team-a's next job finds its own file where it left it
        fake_api.reset()
        fake_api.always(Reply.script(("Read", {"file_path": str(mine / "plan.md")}), text="read"))
        session_of(a, a.post("/jobs", json={"prompt": "read the plan", **tools}).json()["id"])
        assert secret in json.dumps([r.body for r in fake_api.message_requests()])


def test_max_queued_holds_under_thirty_concurrent_submits(fleet: Fleet, api: httpx.Client) -> None:
    key = add_client(fleet, "ci", "--max-queued", "5")
    with as_client(str(api.base_url), key) as ci:

        def submit(i: int) -> int:
            return ci.post("/jobs", json={"prompt": f"job {i}", "engine": "api"}).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            codes = list(pool.map(submit, range(30)))
        assert codes.count(201) == 5 and codes.count(429) == 25, codes
        refused = ci.post("/jobs", json={"prompt": "one more", "engine": "api"})
        assert refused.status_code == 429 and "max_queued" in refused.json()["detail"]
        assert len(ci.get("/jobs").json()["jobs"]) == 5


def test_a_budget_refuses_new_jobs_holds_queued_ones_and_lets_them_run_when_raised(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    key = add_client(fleet, "small", "--daily-budget-usd", "0.001")
    fake_api.always(Reply(kind="success", text="costly", input_tokens=1000))  # $0.003 each
    with as_client(str(api.base_url), key) as small:
        ids = [small.post("/jobs", json={"prompt": f"job {i}", "engine": "api"}).json()["id"] for i in range(2)]
        fleet.start_workers(1)
        wait_until(lambda: small.get(f"/jobs/{ids[0]}").json()["status"] == "finished", 60, what="the first job")
        refused = small.post("/jobs", json={"prompt": "over budget", "engine": "api"})
        assert refused.status_code == 429, refused.text
        assert "daily budget of $0.001 is spent" in refused.json()["detail"]
        assert refused.json()["retry_at"] > 0 and int(refused.headers["retry-after"]) > 0
        held = wait_until(
            lambda: (v := small.get(f"/jobs/{ids[1]}").json())["status"] == "scheduled" and v, 30, what="the hold"
        )
        assert held["attempts"] == [], "a held job spends no attempt"
        raised = run_app(cli_env(**fleet.settings_env()), "clients", "update", "small", "--daily-budget-usd", "1")
        assert raised.returncode == 0, raised.stderr
        wait_until(lambda: small.get(f"/jobs/{ids[1]}").json()["status"] == "finished", 40, what="the held job")
        port = api.get("/fleet").json()["workers"][0]["health_port"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'claude_workers_client_spend_usd{client="small",period="day"}' in metrics
        shown = json.loads(run_app(cli_env(**fleet.settings_env()), "clients", "show", "small", "--json").stdout)
        assert shown["spent"]["today_usd"] == pytest.approx(2 * (1000 * 3 + 3 * 15) / 1e6, abs=1e-9)  # sonnet prices


def test_a_revoked_key_is_refused_at_once_and_no_key_is_kept_in_plaintext(
    fleet: Fleet, api: httpx.Client, tmp_path: Path
) -> None:
    key = add_client(fleet, "leaver")
    # a second API process: revocation must reach every one, not only the one that served the key
    with api_server(fleet, tmp_path) as (other_url, other_log), as_client(str(api.base_url), key) as one:
        with as_client(other_url, key) as two:
            assert one.get("/jobs").status_code == 200 and two.get("/jobs").status_code == 200
            revoked = run_app(cli_env(**fleet.settings_env()), "clients", "revoke", "leaver")
            assert revoked.returncode == 0, revoked.stderr
            for client in (one, two):
                answer = client.get("/jobs")
                assert answer.status_code == 401 and "not valid" in answer.json()["detail"]
        logs = fleet.log_text() + other_log.read_text()
    conn = fleet.conn
    stored = [conn.dump(k) or b"" for k in conn.scan_iter(f"{fleet.prefix}*")]
    assert not [s for s in stored if key.encode() in s], "a client key reached Redis in plaintext"
    assert key not in logs
    listed = run_app(cli_env(**fleet.settings_env()), "clients", "list", "--json")
    assert key not in listed.stdout and json.loads(listed.stdout)[0]["revoked_at"]


def test_a_client_with_one_job_is_not_stuck_behind_another_clients_two_hundred(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    url = str(api.base_url)
    with as_client(url, add_client(fleet, "bulk")) as bulk, as_client(url, add_client(fleet, "single")) as single:
        batch = [{"custom_id": f"j{i}", "prompt": f"bulk {i}", "engine": "api"} for i in range(200)]
        assert bulk.post("/batches", json={"jobs": batch}).status_code == 201
        mine = single.post("/jobs", json={"prompt": "just one", "engine": "api"}).json()["id"]
        high = bulk.post("/jobs", json={"prompt": "bulk, urgent", "engine": "api", "priority": "high"}).json()["id"]
        order = [i.decode() for i in fleet.conn.lrange(f"rq:queue:{fleet.prefix}", 0, -1)]
        assert order.index(mine) <= 2, "the single job waits behind one of bulk's at most"
        assert order.index(high) <= 2, "high priority goes first within bulk's own share"
        fake_api.always(Reply.success("ok", delay=0.2))
        fleet.start_workers(1)
        wait_until(lambda: single.get(f"/jobs/{mine}").json()["status"] == "finished", 60, what="the single job")
        started_before = [
            j for j in bulk.get("/jobs", params={"limit": 500}).json()["jobs"] if j["status"] in ("started", "finished")
        ]
        assert len(started_before) < 5, f"{len(started_before)} of bulk's jobs started first"


def test_max_running_keeps_a_clients_jobs_one_at_a_time_on_a_wider_fleet(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI, claude_bin: str
) -> None:
    key = add_client(fleet, "serial", "--max-running", "1")
    fake_api.always(Reply.success("ok", delay=1.0))
    with as_client(str(api.base_url), key) as serial:
        ids = [serial.post("/jobs", json={"prompt": f"job {i}", "engine": "api"}).json()["id"] for i in range(3)]
        fleet.start_workers(3)
        views = wait_until(
            lambda: (
                (v := [serial.get(f"/jobs/{i}").json() for i in ids])
                and all(x["status"] == "finished" for x in v)
                and v
            ),
            90,
            what="the three jobs",
        )
    spans = sorted((a["started_at"], a["ended_at"]) for v in views for a in v["attempts"])
    assert len(spans) == 3, "a job held for max_running spent no attempt"
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.05, f"two of its jobs ran at once: {spans}"
