"""Run one burst worker of a given kind on a queue, for the queue-overhead benchmark.

python -m bench.run_worker raw|ours|raw-forever QUEUE REDIS_URL   (raw-forever: not burst, for the Redis-load benchmark)
"""

from __future__ import annotations

import os
import sys

from redis import Redis
from rq import Queue, Worker

import bench.jobs  # noqa: F401 - both kinds import the job module once, before forking
from app.fleet.worker import ClaudeWorker
from app.redis_conn import connect
from app.settings import get_settings


def main() -> None:
    kind, queue_name, url = sys.argv[1:4]
    conn = Redis.from_url(url)
    queue = Queue(queue_name, connection=conn)
    if kind.startswith("raw"):
        worker: Worker = Worker([queue], connection=conn)
    else:
        # as `claude-workers worker` does: settings read once, before the first fork; its own connection
        os.environ.update(REDIS_URL=url, CLAUDE_WORKERS_PREFIX=queue_name)
        settings = get_settings()
        conn = connect(settings)
        worker = ClaudeWorker([Queue(queue_name, connection=conn)], settings=settings, connection=conn)
    worker.work(burst=kind != "raw-forever", logging_level="WARNING")


if __name__ == "__main__":
    main()
