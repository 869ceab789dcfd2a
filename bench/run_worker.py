"""Run one burst worker of a given kind on a queue, for the queue-overhead benchmark.

python -m bench.run_worker raw|ours QUEUE REDIS_URL
"""

from __future__ import annotations

import sys

from redis import Redis
from rq import Queue, Worker

from app.fleet.worker import ClaudeWorker
from app.settings import Settings


def main() -> None:
    kind, queue_name, url = sys.argv[1:4]
    conn = Redis.from_url(url)
    queue = Queue(queue_name, connection=conn)
    if kind == "raw":
        worker: Worker = Worker([queue], connection=conn)
    else:
        settings = Settings(_env_file=None, redis_url=url, claude_workers_prefix=queue_name)  # type: ignore[call-arg]
        worker = ClaudeWorker([queue], settings=settings, connection=conn)
    worker.work(burst=True, logging_level="WARNING")


if __name__ == "__main__":
    main()
