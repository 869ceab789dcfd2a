"""/health latency under 200 requests per second while jobs run, and the Claude calls it makes.

Ours: a worker's /health while it runs a stream of 0.5 s jobs (a stand-in that calls the fake
API). Baseline: a bare stdlib HTTP server answering {} on the same machine in the same run
(the floor of Python HTTP here). The worker is given a credential of its own, different from the
key the stand-in jobs send; Claude calls made by health are the requests that carry it: the goal
is zero.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from rq import Queue

from bench.common import Figure, isolated, percentile, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import find_empty_db, free_port, running_fleet, wait_until

RATE = 200
SECONDS = 10
THREADS = 4


def load(url: str) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = RATE // THREADS

    def worker() -> None:
        with httpx.Client(timeout=5) as client:
            start = time.monotonic()
            for i in range(per_thread * SECONDS):
                due = start + i / per_thread
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                began = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status_code == 200
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the floor of Python HTTP, not of Nagle's algorithm

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def main() -> list[Figure]:
    with isolated() as scratch, FakeAnthropicAPI() as fake:
        url = find_empty_db()
        fake.always(Reply.success(delay=0.5))
        port = free_port()
        worker_key = "sk-ant-worker-credential"
        env = {"HEALTH_PORT": str(port), "ANTHROPIC_API_KEY": worker_key, "ANTHROPIC_BASE_URL": fake.url}
        with running_fleet(url, Path(scratch), **env) as fleet:
            fleet.start_workers(1)
            queue = Queue(fleet.prefix, connection=fleet.conn)
            for _ in range(40):
                queue.enqueue("bench.jobs.guarded_call_fake", fake.url)
            wait_until(lambda: fleet.conn.llen(f"rq:queue:{fleet.prefix}") < 40, 20, what="jobs to start")
            ours = load(f"http://127.0.0.1:{port}/health")
            busy = fleet.finished()
            health_calls = sum(1 for r in fake.message_requests() if r.headers.get("x-api-key") == worker_key)
            running = len(fake.message_requests())
        bare = ThreadingHTTPServer(("127.0.0.1", 0), _Bare)
        threading.Thread(target=bare.serve_forever, daemon=True).start()
        base = load(f"http://127.0.0.1:{bare.server_address[1]}/")
        bare.shutdown()
    figures = [
        Figure(
            "health_p99",
            f"/health p99 at {RATE} req/s for {SECONDS}s while jobs run",
            percentile(ours, 99),
            percentile(base, 99),
            "ms",
            "p99 under 10 ms",
            "bare stdlib HTTP server, same load",
            f"p50 {percentile(ours, 50):.2f} ms (bare {percentile(base, 50):.2f}); {len(ours)} requests; "
            f"{busy} jobs finished and {running} Claude calls made by jobs meanwhile",
        ),
        Figure(
            "health_claude_calls",
            "Claude calls made by /health during the load",
            health_calls,
            0,
            "calls",
            "zero",
            "zero",
        ),
    ]
    return publish(figures)


if __name__ == "__main__":
    main()
