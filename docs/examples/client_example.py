"""Submit a job and a small batch through the jobs API, and print the results.

Run a fleet first (`make up`, or `claude-workers up`), then:

    python docs/examples/client_example.py

CLAUDE_WORKERS_API_URL and CLAUDE_WORKERS_API_TOKEN point it elsewhere.
"""

import os

from app.client import Client

url = os.environ.get("CLAUDE_WORKERS_API_URL", "http://127.0.0.1:8000")
token = os.environ.get("CLAUDE_WORKERS_API_TOKEN") or None

with Client(url, token=token) as client:
    job = client.submit("Reply with the single word: OK", idempotency_key="example-ok")
    done = client.wait(job["id"], timeout=300)
    result = done["result"] or {}
    cost = result.get("cost_usd")
    print(f"job {done['id']}: {done['status']}: {result.get('text')!r} cost " + (f"${cost:.6f}" if cost else "unknown"))

    batch = client.batch(
        [{"custom_id": f"greeting-{n}", "prompt": f"Say hello number {n}"} for n in range(3)],
        batch_id="example-greetings",
    )
    for row in client.batch_results(batch["id"], wait=True):
        print(row["custom_id"], row["status"], (row["result"] or {}).get("text"))
