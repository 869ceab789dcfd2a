"""The event stream: GET /events (SSE), Last-Event-ID, `jobs watch`, and what the fleet emits."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet

pytestmark = pytest.mark.integration


def sse(client: httpx.Client, **params: Any) -> Iterator[dict[str, Any]]:
    """The events of one GET /events connection (keep-alives skipped), with the SSE id and event name checked."""
    headers = {"Last-Event-ID": params.pop("last_event_id")} if "last_event_id" in params else {}
    with client.stream("GET", "/events", params=params, headers=headers, timeout=30) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in answer.iter_lines():
            if not line:
                if "data" in fields:
                    event = json.loads(fields["data"])
                    assert event["id"] == fields["id"] and event["kind"] == fields["event"]
                    yield event
                fields = {}
            elif not line.startswith(":") and ":" in line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()


def until_end(events: Iterator[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    seen = []
    for event in events:
        seen.append(event)
        if event["job"] == job_id and event["kind"] in ("job.finished", "job.failed", "job.canceled"):
            return seen
    raise AssertionError(f"the stream ended before job {job_id} did: {seen}")


def test_a_jobs_life_arrives_in_order_live_and_replayed(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI
) -> None:
    fake_api.always(Reply.success(delay=2))
    fleet.start_workers(1)
    job_id = api.post("/jobs", json={"prompt": "say OK"}).json()["id"]
    live = until_end(sse(api, job=job_id[:10], since="0"), job_id)  # a prefix works here too
    assert [e["kind"] for e in live] == ["job.queued", "job.started", "job.finished"]
    assert {e["job"] for e in live} == {job_id}
    assert live[-1]["cost_usd"] > 0 and live[1]["attempt"] == 1
    assert [e["id"] for e in live] == sorted(e["id"] for e in live)
    # the fleet's own events are in the same stream: the worker that joined
    fleet_events = until_end(sse(api, since="0"), job_id)
    assert "worker.joined" in {e["kind"] for e in fleet_events}
    # filters: by kind family
    finished = until_end(sse(api, since="0", kind=["job.finished"]), job_id)
    assert [e["kind"] for e in finished] == ["job.finished"]
    assert api.get("/events", params={"kind": "job.lost"}).status_code == 422
    assert api.get("/events", headers={"Last-Event-ID": "1 OR 1"}).status_code == 422


def test_a_client_that_reconnects_with_last_event_id_misses_none(
    fleet: Fleet, api: httpx.Client, fake_api: FakeAnthropicAPI
) -> None:
    # a 429 first: the job waits behind the closed gate, then runs again
    fake_api.then(Reply.rate_limit(retry_after=1))
    fleet.env["CLAUDE_RATE_LIMIT_DELAY"] = "1"
    fleet.start_workers(1, CLAUDE_RATE_LIMIT_DELAY="1", CLAUDE_GATE_POLL_INTERVAL="0.2")
    job_id = api.post("/jobs", json={"prompt": "say OK"}).json()["id"]
    first = sse(api, job=job_id, since="0")
    got = [next(first), next(first)]
    first.close()  # the client goes away mid-life
    rest = until_end(sse(api, job=job_id, last_event_id=got[-1]["id"]), job_id)
    resumed = got + rest
    replayed = until_end(sse(api, job=job_id, since="0"), job_id)
    assert [e["id"] for e in resumed] == [e["id"] for e in replayed], "an event was missed or repeated"
    kinds = [e["kind"] for e in replayed]
    assert kinds[0] == "job.queued" and kinds[-1] == "job.finished"
    assert "job.waiting" in kinds and kinds.count("job.started") == 2
    # and the fleet said so: the gate closed for the rate limit, then opened
    fleet_kinds = []
    for event in sse(api, since="0", kind=["fleet"]):
        fleet_kinds.append(event["kind"])
        if event["kind"] == "fleet.gate_opened":
            break
    assert "fleet.gate_closed" in fleet_kinds and fleet_kinds[-1] == "fleet.gate_opened"


def test_jobs_watch_shows_a_job_as_it_happens(fleet: Fleet, fake_api: FakeAnthropicAPI, claude_bin: str) -> None:
    fake_api.always(Reply.success(delay=1))
    fleet.start_workers(1)
    (job_id,) = fleet.enqueue(1)
    watched = subprocess.run(
        [PYTHON, "-m", "app", "jobs", "watch", job_id[:8]],
        env=cli_env(**fleet.settings_env()),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["job.queued", "job.started", "job.finished"], lines
    assert all(job_id in line for line in lines)
