"""The function the queue runs for a submitted job spec: validate it again, then run it guarded."""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from rq import Retry, get_current_job

from app.claude.runner import run_claude
from app.errors import JobFailed
from app.fleet.job import guarded
from app.jobs import policy
from app.jobs.spec import JobSpec
from app.jobs.workspace import job_workspace
from app.settings import get_settings


def run_claude_job(spec: dict[str, Any]) -> dict[str, Any] | Retry:
    """The function the queue runs for a submitted job spec."""
    settings = get_settings()
    job = get_current_job()
    try:
        parsed = JobSpec.model_validate(spec)
    except ValidationError as exc:
        where = job.id if job is not None else "this job"
        raise JobFailed(f"Job {where} has an invalid spec and cannot run: {exc.errors()[0]['msg']}") from None
    job_id = job.id if job is not None else f"local-{time.time_ns()}"
    try:
        policy.check(parsed, settings)  # whatever reached Redis without passing the API
    except policy.PolicyViolation as exc:
        raise JobFailed(f"Job {job_id} cannot run: {exc}") from None

    def call() -> dict[str, Any]:
        with job_workspace(settings.workspace_root, job_id, parsed.workspace, parsed.keep_workspace) as cwd:
            return run_claude(parsed.to_run_request(cwd), settings).to_dict()

    return guarded(call, settings)
