"""A Python client for the jobs API.

::

    from app.client import Client

    client = Client("http://127.0.0.1:8000", token=None)
    job = client.submit("Summarise README.md in one line", model="sonnet")
    done = client.wait(job["id"])
    print(done["status"], done["result"]["text"], f"${done['result']['cost_usd']:.6f}")

    batch = client.batch([{"custom_id": "a", "prompt": "say A"}, {"custom_id": "b", "prompt": "say B"}])
    for row in client.batch_results(batch["id"], wait=True):
        print(row["custom_id"], row["status"], (row["result"] or {}).get("text"))

Every method returns the API's JSON objects (plain dicts), the same ones the CLI prints with
``--json``. Errors raise ``ClientError`` with the HTTP status and the API's explanation.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

FINAL = ("finished", "failed", "canceled")


class ClientError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 30.0):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise ClientError(response.status_code, detail)
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            return [json.loads(line) for line in response.text.splitlines() if line.strip()]
        return response.json()

    # -- jobs ----------------------------------------------------------------------------
    def submit(self, prompt: str, **options: Any) -> dict[str, Any]:
        """Queue a job; ``options`` are the job spec's fields (model, max_turns, idempotency_key, …)."""
        created = self._call("POST", "/jobs", json={"prompt": prompt, **options})
        return dict(created["job"])

    def get(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/jobs/{job_id}"))

    def wait(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the job is finished, failed or canceled (following its events); return its final object."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self.get(job_id)
        if job["status"] in FINAL:
            return job
        for event in self.stream(job=job["id"], since="0", timeout=timeout):
            if event is None or event["kind"] in ("job.finished", "job.failed", "job.canceled"):
                job = self.get(job["id"])
                if job["status"] in FINAL:
                    return job
            if deadline is not None and time.monotonic() > deadline:
                break
        raise TimeoutError(f"job {job_id} is still {self.get(job_id)['status']} after {timeout}s")

    def stream(
        self,
        job: str | None = None,
        batch: str | None = None,
        kinds: Iterable[str] = (),
        since: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any] | None]:
        """Events as they happen (``GET /events``); None for each keep-alive. Reconnects with Last-Event-ID."""
        params: dict[str, Any] = {"kind": list(kinds)}
        if job:
            params["job"] = job
        if batch:
            params["batch"] = batch
        last = since
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            headers = {"Last-Event-ID": last} if last else {}
            try:
                with self._http.stream("GET", "/events", params=params, headers=headers, timeout=30) as answer:
                    if answer.status_code >= 400:
                        answer.read()
                        raise ClientError(answer.status_code, answer.json().get("detail"))
                    for event in _server_sent(answer.iter_lines()):
                        if event is not None:
                            last = event["id"]
                        yield event
                        if deadline is not None and time.monotonic() > deadline:
                            return
            except httpx.TransportError:  # the connection dropped: reconnect where it left off
                time.sleep(1)

    def list(self, status: str | None = None, limit: int = 50) -> Iterator[dict[str, Any]]:
        """Every job (of ``status``), page by page."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", "/jobs", params=params)
            yield from page["jobs"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def requeue(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/jobs/{job_id}/requeue"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("DELETE", f"/jobs/{job_id}"))

    def fleet(self) -> dict[str, Any]:
        return dict(self._call("GET", "/fleet"))

    # -- batches ---------------------------------------------------------------------------
    def batch(self, jobs: Iterable[dict[str, Any]], batch_id: str | None = None) -> dict[str, Any]:
        """Queue job specs that each carry a ``custom_id``. The same batch twice enqueues nothing twice."""
        body: dict[str, Any] = {"jobs": list(jobs)}
        if batch_id:
            body["batch_id"] = batch_id
        return dict(self._call("POST", "/batches", json=body))

    def batch_results(self, batch_id: str, wait: bool = False, poll: float = 2.0) -> builtins.list[dict[str, Any]]:
        """One object per ``custom_id``; with ``wait``, only once every job has ended."""
        while wait and not self._call("GET", f"/batches/{batch_id}")["complete"]:
            time.sleep(poll)
        return list(self._call("GET", f"/batches/{batch_id}/results"))


def _server_sent(lines: Iterator[str]) -> Iterator[dict[str, Any] | None]:
    """The events of a text/event-stream: each ``data`` as an object; None for a comment (keep-alive)."""
    data: builtins.list[str] = []
    for line in lines:
        if line.startswith(":"):
            yield None
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []
