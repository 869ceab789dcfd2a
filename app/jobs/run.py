"""The function the queue runs for a submitted job spec: validate it again, then run it guarded.

Each attempt starts as ``resume.plan`` says (continuing the session an interrupted attempt left,
or fresh), records the session id the moment the CLI announces it, and on success hands back what
the job changed in its workspace. The workspace and the job's state dir stay while the job may
run again; they go when it has ended (the workspace stays if the job asked to keep it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError
from rq import Retry, get_current_job
from rq.job import Job

from app.claude.run_place import session_kept
from app.claude.runner import run_claude
from app.errors import JobFailed
from app.fleet import attempts, clients, sessions
from app.fleet.job import guarded
from app.fleet.keys import Keys
from app.jobs import changes, policy, repo, resume, tenancy
from app.jobs.spec import JobSpec
from app.jobs.workspace import LOCAL_RUN, JobPlace
from app.settings import Settings, get_settings

log = logging.getLogger("app.job")

PHOTO = "photo.json"
BASE_COMMIT = "base-commit"


def run_claude_job(spec: dict[str, Any]) -> dict[str, Any] | Retry:
    """The function the queue runs for a submitted job spec."""
    settings = get_settings()
    job = get_current_job()
    try:
        parsed = JobSpec.model_validate(spec)
    except ValidationError as exc:
        where = job.id if job is not None else "this job"
        raise JobFailed(f"Job {where} has an invalid spec and cannot run: {exc.errors()[0]['msg']}") from None
    job_id = job.id if job is not None else f"{LOCAL_RUN}{time.time_ns()}"
    client = clients.owner_of(job) if job is not None else None
    try:  # whatever reached Redis without passing the API
        policy.check(parsed, settings)
        if job is not None and client is not None:
            tenancy.check_session(job.connection, Keys(settings.claude_workers_prefix), client, parsed)
    except (policy.PolicyViolation, tenancy.SessionNotYours) as exc:
        raise JobFailed(f"Job {job_id} cannot run: {exc}") from None
    place = JobPlace.of(settings.workspace_root, job_id, parsed.workspace, parsed.keep_workspace, client)

    try:
        outcome = guarded(lambda: _attempt(parsed, place, settings, job, client), settings)
    except JobFailed:
        place.finish()  # failed for good: nothing will resume it
        raise
    if not isinstance(outcome, Retry):
        place.finish()
    return outcome


def _attempt(spec: JobSpec, place: JobPlace, settings: Settings, job: Job | None, client: str | None) -> dict[str, Any]:
    history = attempts.attempts(job) if job is not None else []
    earlier = history[:-1]  # the guard has recorded this attempt already
    start = resume.plan(
        prompt=spec.prompt,
        given_session=spec.resume_session_id,
        resume=spec.resume,
        resume_prompt=spec.resume_prompt,
        earlier=earlier,
        workspace_kept=place.prepared,
        session_kept=lambda session: session_kept(settings, session, place.state),
    )
    if job is not None and start.note:
        attempts.note(job, **start.note)
    if start.resume_session_id is None or not place.prepared:
        _set_up(spec, place, settings)

    def on_event(event: dict[str, Any]) -> None:
        # the moment the CLI names its session: an attempt killed after this can be resumed
        if job is not None and event.get("type") == "system" and event.get("subtype") == "init":
            session = event.get("session_id")
            if isinstance(session, str) and session != (attempts.current(job) or {}).get("session_id"):
                try:
                    attempts.note(job, session_id=session)
                    keys = Keys(settings.claude_workers_prefix)
                    sessions.own(job.connection, keys, session, client, settings.claude_session_retention)
                except redis.RedisError as exc:  # the run goes on; only a later resume of it is lost
                    log.warning("job %s: could not record its session (%s)", job.id, type(exc).__name__)

    request = spec.to_run_request(place.workspace).model_copy(
        update={"prompt": start.prompt, "resume_session_id": start.resume_session_id, "state_dir": place.state}
    )
    result = run_claude(request, settings, on_event=on_event).to_dict()
    if spec.engine == "cli":
        result.update(_changes(place, settings))
    if start.note.get("resumed_from"):
        result["resumed_from"] = start.note["resumed_from"]
    return result


def _set_up(spec: JobSpec, place: JobPlace, settings: Settings) -> None:
    """A first start (or a start over): a fresh workspace, cloned from the repo if there is one,
    and the photograph that the job's changes are measured against."""
    place.fresh()
    if spec.repo is not None:
        (place.state / BASE_COMMIT).write_text(repo.clone(spec.repo, spec.ref, place.workspace))
    elif spec.engine == "cli":  # the API engine touches no file
        (place.state / PHOTO).write_text(changes.photograph(place.workspace).to_json())
    place.mark_started()


def _changes(place: JobPlace, settings: Settings) -> dict[str, Any]:
    limit = settings.claude_workers_diff_max_bytes
    base = place.state / BASE_COMMIT
    if base.exists():
        found = repo.patch(place.workspace, base.read_text().strip(), limit)
    else:
        before = _photo(place.state / PHOTO)
        found = changes.compare(before, changes.photograph(place.workspace), limit)
    found["workspace_kept"] = place.named or place.keep
    return found


def _photo(path: Path) -> changes.Photo:
    try:
        return changes.Photo.from_json(path.read_text())
    except (OSError, ValueError, KeyError):
        return changes.Photo()  # no photograph: everything there counts as created
