"""What ended jobs left on this host's workspace volume, cleared.

A job's state dir, and its fresh workspace unless it asked to keep it, normally go with the attempt
that ends the job. A job can also end where no attempt runs: canceled while it waited for its next
attempt after an interrupted one (a usage limit, a killed worker), or deleted from Redis. Each
worker looks through the state dirs on its volume once a maintenance interval and clears those
whose job has ended or is gone, so a volume holds only the jobs that may still run.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from redis import Redis
from rq.job import Job

from app.chore import Chore
from app.errors import InvalidRequest
from app.fleet import clients
from app.jobs import service
from app.jobs.workspace import LOCAL_RUN, STATE, JobPlace
from app.settings import Settings
from app.states import ENDED_STATUSES

log = logging.getLogger("app.workspaces")

#: RQ's grammar of job ids: anything else on the volume is not a job's
JOB_ID = re.compile(r"[A-Za-z0-9_-]+")


def sweep(conn: Redis, root: Path) -> list[str]:
    """Clear what ended or vanished jobs left under ``root``; the ids cleared."""
    try:
        ids = sorted(entry.name for entry in (root / STATE).iterdir() if entry.is_dir() and _job_id(entry.name))
    except FileNotFoundError:
        return []
    cleared = []
    for job_id, job in zip(ids, Job.fetch_many(ids, connection=conn) if ids else [], strict=True):
        if job is None:
            # its record is gone (deleted, or expired): its state is surely ours to remove, but a
            # workspace it may have asked to keep is the user's, and stays
            shutil.rmtree(root / STATE / job_id, ignore_errors=True)
        elif job.get_status(refresh=False) in ENDED_STATUSES:
            try:
                JobPlace.of_job(root, job.id, service.spec_of(job), clients.owner_of(job)).finish()
            except InvalidRequest:  # a spec that names no place of ours: leave its workspace alone
                shutil.rmtree(root / STATE / job_id, ignore_errors=True)
        else:
            continue
        cleared.append(job_id)
    return cleared


def _job_id(name: str) -> bool:
    """Whether a state dir is named like a queued job's (a run outside the queue is named local-...)."""
    return JOB_ID.fullmatch(name) is not None and not name.startswith(LOCAL_RUN)


class Sweeper(Chore):
    """A worker's thread that runs :func:`sweep` once a maintenance interval."""

    name = "workspaces"

    def __init__(self, conn: Redis, settings: Settings) -> None:
        super().__init__(settings.claude_maintenance_interval)
        self.conn = conn
        self.root = settings.workspace_root

    def round(self) -> None:
        for job_id in sweep(self.conn, self.root):
            log.info("workspaces: cleared what ended job %s left", job_id)
