"""How much a client's page of `GET /jobs` costs when nearly every job on the fleet is another client's.

A client sees only its own jobs, so its page reads past everyone else's. Ours: the median time of
`service.list_jobs` (the function behind `GET /jobs`) for a page of 50 of one client's 50 jobs,
each submitted after 100 of a bulk client's (5,000 others), all of them ended (canceled here; a
fleet's history of finished jobs reads the same way). In the queue itself fair queueing puts the
small client's jobs first, so the ended jobs are the case to measure. Baseline, same run and Redis:
reading those 5,050 jobs whole, 200 per round trip, as a client's page did before it read each
job's meta first. The operator's page of 50 (which reads exactly 50) is noted beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from redis import Redis
from rq.job import Job

from app.fleet import clients
from app.fleet.keys import Keys
from app.jobs import service
from app.jobs.spec import JobSpec
from app.jobs.submit import enqueue
from app.settings import Settings
from bench.common import Figure, isolated, publish
from tests.fleet_harness import find_empty_db

MINE = 50
OTHERS_PER_MINE = 100
RUNS = 15


def median_seconds(read: Callable[[], None], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> list[Figure]:
    with isolated():
        url = find_empty_db()
        conn = Redis.from_url(url)
        conn.flushdb()
        settings = Settings(_env_file=None, redis_url=url, claude_workers_prefix="bench-list")
        keys = Keys(settings.claude_workers_prefix)
        small, _ = clients.add(conn, keys, "small")
        bulk, _ = clients.add(conn, keys, "bulk")
        spec = JobSpec(prompt="x", engine="api")
        for _ in range(MINE):
            for _ in range(OTHERS_PER_MINE):
                enqueue(conn, settings, spec, client=bulk)[0].cancel()
            enqueue(conn, settings, spec, client=small)[0].cancel()

        def client_page() -> None:
            views, _ = service.list_jobs(conn, settings, None, None, MINE, None, client="small")
            assert len(views) == MINE

        def operator_page() -> None:
            views, _ = service.list_jobs(conn, settings, None, None, MINE, None)
            assert len(views) == MINE

        def whole_jobs() -> None:
            raw: list[bytes] = conn.zrevrange(keys.rq_registry("canceled"), 0, -1)  # type: ignore[assignment]
            ids = [job_id.decode() for job_id in raw]
            for start in range(0, len(ids), service.CLIENT_READ_AHEAD):
                Job.fetch_many(ids[start : start + service.CLIENT_READ_AHEAD], connection=conn)

        ours = median_seconds(client_page)
        baseline = median_seconds(whole_jobs)
        operator = median_seconds(operator_page)
        conn.flushdb()
    total = MINE * (OTHERS_PER_MINE + 1)
    return publish(
        [
            Figure(
                "list_client_page",
                f"a client's page of its {MINE} jobs among {total:,} (`GET /jobs`), median of {RUNS}",
                ours * 1000,
                baseline * 1000,
                "ms",
                "a fraction of reading every job whole",
                f"reading the {total:,} jobs whole, {service.CLIENT_READ_AHEAD} per round trip, same run",
                f"the client's page reads the meta of all {total:,} jobs, {service.CLIENT_READ_AHEAD} per round "
                f"trip, and only its own jobs whole; the operator's page of {MINE}: {operator * 1000:.3g} ms",
            )
        ]
    )


if __name__ == "__main__":
    main()
