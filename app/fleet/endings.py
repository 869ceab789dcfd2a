"""What happens when a job ends (finished, failed for good, or canceled), wherever that happens.

The event goes out, the job's (and its batch's) webhook is owed, and the job stops counting against
its client's limit of open jobs. None of it may fail the job it reports on.
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from rq.job import Job

from app.fleet import clients, deliveries, events
from app.fleet.keys import Keys


def job_ended(job: Job, event: str, **data: Any) -> None:
    events.emit_for(job, event, **data)
    deliveries.job_ended(job, event)
    client = clients.owner_of(job)
    if client is not None:
        with contextlib.suppress(redis.RedisError):
            clients.close_job(job.connection, Keys(job.origin), client, job.id)
