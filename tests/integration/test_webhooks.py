"""Webhooks through a real worker, API and Redis, to a local receiver that checks each signature
with the five lines docs/webhooks.md gives."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakes.webhook_receiver import WebhookReceiver, tries
from tests.fleet_harness import Fleet, wait_until
from tests.integration.conftest import api_server, wait_status

pytestmark = pytest.mark.integration

SECRET = "webhook-test-secret-" + "s" * 20
WEBHOOKS = {
    "CLAUDE_WORKERS_WEBHOOK_SECRET": SECRET,
    "CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE": "true",
    "CLAUDE_WORKERS_WEBHOOK_RETRY_DELAYS": "0.3,0.3,0.3",
}


def documented_verify() -> Callable[..., bool]:
    """The verification function of docs/webhooks.md, run as a receiver would copy it."""
    doc = (ROOT / "docs" / "webhooks.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "def verify" in block)
    assert len(code.strip().splitlines()) <= 6, "the docs promise five lines (and the import)"
    scope: dict[str, Any] = {}
    exec(code, scope)
    return scope["verify"]  # type: ignore[no-any-return]


def signed_by_us(call: Any) -> bool:
    return documented_verify()(
        SECRET, call.body, call.headers["x-claude-workers-timestamp"], call.headers["x-claude-workers-signature"]
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def webhook_api(fleet: Fleet, tmp_path: Path) -> Iterator[httpx.Client]:
    from tests.integration.conftest import TOKEN

    fleet.env.update(WEBHOOKS)
    with (
        api_server(fleet, tmp_path) as (url, _),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client,
    ):
        yield client


def test_a_finished_job_is_posted_signed_and_a_receiver_that_fails_twice_gets_the_third_try(
    fleet: Fleet, webhook_api: httpx.Client, receiver: WebhookReceiver
) -> None:
    fleet.start_workers(1)
    receiver.answers = [500, 503]
    created = webhook_api.post(
        "/jobs", json={"prompt": "say OK", "engine": "api", "callback_url": f"{receiver.url}/hook/a"}
    ).json()
    wait_status(webhook_api, created["id"], ("finished",))
    view = wait_until(
        lambda: (v := webhook_api.get(f"/jobs/{created['id']}").json()) and len(v.get("webhooks") or []) >= 3 and v,
        30,
        interval=0.2,
        what="three webhook tries recorded",
    )
    assert list(tries(view)) == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert view["webhooks"][-1]["next_try_at"] is None and view["webhooks"][0]["next_try_at"] is not None
    calls = receiver.calls_to("/hook/a")
    assert len(calls) == 3
    assert all(signed_by_us(c) for c in calls)
    assert len({c.headers["x-claude-workers-delivery"] for c in calls}) == 1, "one delivery, tried three times"
    assert {c.headers["x-claude-workers-event"] for c in calls} == {"job.finished"}
    body = json.loads(calls[-1].body)
    assert body["id"] == created["id"] and body["status"] == "finished" and body["result"]["text"]
    forged = calls[-1].body.replace(b'"finished"', b'"failed"', 1)
    assert not documented_verify()(
        SECRET, forged, calls[-1].headers["x-claude-workers-timestamp"], calls[-1].headers["x-claude-workers-signature"]
    )


def test_a_batch_posts_its_summary_once_when_its_last_job_ends(
    fleet: Fleet, webhook_api: httpx.Client, receiver: WebhookReceiver
) -> None:
    fleet.start_workers(2)
    jobs = [{"custom_id": f"q{i}", "prompt": f"say OK {i}", "engine": "api"} for i in range(4)]
    jobs[0]["callback_url"] = f"{receiver.url}/hook/job-q0"
    created = webhook_api.post("/batches", json={"jobs": jobs, "callback_url": f"{receiver.url}/hook/batch"}).json()
    wait_until(lambda: receiver.calls_to("/hook/batch"), 60, interval=0.2, what="the batch's webhook")
    summary = webhook_api.get(f"/batches/{created['id']}").json()
    assert summary["complete"]
    (call,) = receiver.calls_to("/hook/batch")
    assert call.headers["x-claude-workers-event"] == "batch.ended" and signed_by_us(call)
    posted = json.loads(call.body)
    assert posted["id"] == created["id"] and posted["complete"] and posted["counts"] == {"finished": 4}
    tries = wait_until(
        lambda: webhook_api.get(f"/batches/{created['id']}").json().get("webhooks"), 10, what="the batch's tries"
    )
    assert [(t["event"], t["status_code"], t["accepted"]) for t in tries] == [("batch.ended", 200, True)]
    assert tries[0]["delivery"] == call.headers["x-claude-workers-delivery"] and "webhooks" not in posted
    (job_call,) = wait_until(lambda: receiver.calls_to("/hook/job-q0"), 10, what="the item's own webhook")
    assert json.loads(job_call.body)["metadata"] == {} and signed_by_us(job_call)
    # submitting the same batch again queues nothing and sends nothing more
    again = webhook_api.post("/batches", json={"jobs": jobs, "callback_url": f"{receiver.url}/hook/batch"}).json()
    assert again["new"] == 0
    time.sleep(2.5)  # two dispatcher looks (one a second): long enough for a second delivery to have gone out
    assert len(receiver.calls_to("/hook/batch")) == 1


def test_a_canceled_job_is_posted_too(fleet: Fleet, webhook_api: httpx.Client, receiver: WebhookReceiver) -> None:
    created = webhook_api.post("/jobs", json={"prompt": "never runs", "callback_url": f"{receiver.url}/c"}).json()
    assert webhook_api.delete(f"/jobs/{created['id']}").status_code == 200
    fleet.start_workers(1)  # the worker's dispatcher sends what is owed, though it runs no job
    (call,) = wait_until(lambda: receiver.calls_to("/c"), 30, interval=0.2, what="the cancel's webhook")
    assert call.headers["x-claude-workers-event"] == "job.canceled" and json.loads(call.body)["status"] == "canceled"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/hook", "non-public address (127.0.0.1)"),
        ("http://localhost:9/hook", "non-public address"),
        ("http://169.254.169.254/latest/meta-data/", "non-public address (169.254.169.254)"),
        ("http://10.1.2.3/hook", "non-public address (10.1.2.3)"),
        ("http://[::1]:9/hook", "non-public address (::1)"),
        ("http://[::ffff:127.0.0.1]/hook", "non-public address"),
    ],
)
def test_private_addresses_are_refused_before_anything_is_queued(
    fleet: Fleet, tmp_path: Path, url: str, says: str
) -> None:
    from tests.integration.conftest import TOKEN

    fleet.env["CLAUDE_WORKERS_WEBHOOK_SECRET"] = SECRET
    with (
        api_server(fleet, tmp_path) as (base, _),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client,
    ):
        answer = client.post("/jobs", json={"prompt": "hi", "callback_url": url})
        assert answer.status_code == 422, answer.text
        assert (
            says in answer.json()["detail"] and "CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE=true" in answer.json()["detail"]
        )
        batch = client.post("/batches", json={"jobs": [{"custom_id": "a", "prompt": "hi"}], "callback_url": url})
        assert batch.status_code == 422, batch.text
        assert client.get("/jobs").json()["jobs"] == [], "nothing was queued"


def test_a_callback_without_a_secret_or_with_a_bad_url_is_refused(fleet: Fleet, api: httpx.Client) -> None:
    answer = api.post("/jobs", json={"prompt": "hi", "callback_url": "https://example.com/hook"})
    assert answer.status_code == 422
    assert "CLAUDE_WORKERS_WEBHOOK_SECRET" in answer.json()["detail"] and "secrets.token_hex" in answer.json()["detail"]
    for bad in ("ftp://example.com/x", "https://user:pw@example.com/x", "example.com/x", "https://exa mple.com/"):
        answer = api.post("/jobs", json={"prompt": "hi", "callback_url": bad})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "callback_url"], bad
    assert api.get("/jobs").json()["jobs"] == []


def test_each_try_checks_the_address_again_where_the_worker_runs(
    fleet: Fleet, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The API allowed a private receiver, the workers do not: the worker's own check stops the call."""
    from tests.integration.conftest import TOKEN

    fleet.env.update(
        {**WEBHOOKS, "CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE": "false", "CLAUDE_WORKERS_WEBHOOK_RETRY_DELAYS": "0.2"}
    )
    with (
        api_server(fleet, tmp_path, CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE="true") as (base, _),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client,
    ):
        created = client.post(
            "/jobs", json={"prompt": "hi", "engine": "api", "callback_url": f"{receiver.url}/x"}
        ).json()
        fleet.start_workers(1)
        view = wait_until(
            lambda: (v := client.get(f"/jobs/{created['id']}").json()) and len(v.get("webhooks") or []) >= 2 and v,
            60,
            interval=0.2,
            what="both tries recorded",
        )
    assert [(t["status_code"], t["accepted"]) for t in view["webhooks"]] == [(None, False), (None, False)]
    assert "non-public address (127.0.0.1)" in view["webhooks"][0]["error"]
    assert view["webhooks"][-1]["next_try_at"] is None, "given up after the last delay"
    assert receiver.calls == []
