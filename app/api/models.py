"""The API's response shapes, typed and described, so the OpenAPI document tells a client what it gets.

The views are built as plain dicts by the services (the CLI prints the same dicts); these models are
their contract. A unit test checks that every key a view carries is a field here, so a field added to a
view without its description fails CI instead of silently vanishing from the response.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.states import State

Status = Literal["queued", "scheduled", "waiting", "started", "finished", "failed", "canceled"]


class Attempt(BaseModel):
    n: int = Field(description="1 for the first attempt.")
    started_at: float = Field(description="Unix time the attempt started.")
    ended_at: float | None = Field(description="Unix time it ended; null while running or when it was cut off.")
    outcome: str = Field(
        description="ok, running, interrupted (its worker died), or the error word that ended it "
        "(auth_required, quota_exceeded, rate_limited, overloaded, billing_required, job_failed, ...)."
    )
    probe: bool = Field(description="True when this attempt was the one probe that tested a closed gate.")
    worker: str | None = Field(description="The worker that ran it.")
    message: str | None = Field(description="What the attempt ended with, for a failed one (secrets removed).")
    session_id: str | None = Field(
        default=None, description="The Claude session the attempt ran, recorded as soon as the CLI named it."
    )
    resumed_from: str | None = Field(
        default=None, description="The session this attempt continued (an earlier attempt was cut off)."
    )
    fresh_start: str | None = Field(
        default=None, description="Why this attempt started over instead of resuming the earlier session."
    )


class ChangedFiles(BaseModel):
    created: list[str] = Field(description="Paths (relative to the workspace) that did not exist before.")
    changed: list[str] = Field(description="Paths whose content changed.")
    deleted: list[str] = Field(description="Paths that are gone.")
    not_diffed: list[str] = Field(description="Changed paths left out of the diff: binary, or larger than 256 KiB.")


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")  # engines may add fields; a client ignores what it does not know

    text: str = Field(description="Claude's final answer.")
    engine: Literal["cli", "api"] | None = Field(
        default=None, description="What ran the job: the Claude Code CLI, or the Messages API."
    )
    session_id: str | None = Field(default=None, description="The Claude session; resume it with resume_session_id.")
    cost_usd: float | None = Field(
        default=None, description="Cost in US dollars (reported by the CLI; estimated from tokens for the API)."
    )
    usage: dict[str, Any] = Field(default_factory=dict, description="Token counts as Claude reported them.")
    num_turns: int | None = Field(default=None, description="Agent turns the run took.")
    duration_ms: int | None = Field(default=None, description="How long the run took, in milliseconds.")
    model: str | None = Field(default=None, description="The model that answered.")
    structured_output: Any = Field(default=None, description="The JSON that matched json_schema, when one was given.")
    rate_limit: dict[str, Any] | None = Field(
        default=None, description="The last rate-limit information the run saw (status, reset time), if any."
    )
    files: ChangedFiles | None = Field(
        default=None, description="CLI jobs: the files the job created, changed and deleted in its workspace."
    )
    diff: str | None = Field(
        default=None,
        description="CLI jobs: a unified diff of those changes (text files), at most CLAUDE_WORKERS_DIFF_MAX_BYTES; "
        "for a job from a repo, a git patch that applies to its ref.",
    )
    diff_truncated: bool | None = Field(default=None, description="True when the diff was cut at the cap.")
    base_commit: str | None = Field(default=None, description="Jobs from a repo: the commit ref named at the start.")
    commits: list[str] | None = Field(
        default=None, description="Jobs from a repo: the commits the agent made on top of base_commit, oldest first."
    )
    workspace_kept: bool | None = Field(
        default=None, description="Whether the workspace stays for GET /jobs/{id}/files (keep_workspace or named)."
    )
    resumed_from: str | None = Field(
        default=None, description="The session the finishing attempt resumed, when an earlier one was cut off."
    )


class WebhookTry(BaseModel):
    delivery: str = Field(description="The delivery id (X-Claude-Workers-Delivery): the same on each of its tries.")
    event: str = Field(description="job.finished, job.failed, job.canceled or batch.ended.")
    try_: int = Field(alias="try", description="1 for the first try of this delivery.")
    at: float = Field(description="Unix time of the try.")
    status_code: int | None = Field(description="The receiver's answer; null when none came.")
    error: str | None = Field(description="Why there was no answer (or why it was not sent).")
    accepted: bool = Field(description="True for a 2xx answer: nothing more is sent.")
    next_try_at: float | None = Field(description="Unix time of the next try; null once accepted or given up.")


class JobView(BaseModel):
    id: str = Field(description="The job id; any unique prefix of it works wherever an id is asked for.")
    status: Status = Field(
        description="queued, scheduled (a retry at next_attempt_at), waiting (queued behind the closed gate), "
        "started, finished, failed or canceled."
    )
    spec: dict[str, Any] = Field(description="The job as submitted (its prompt and options).")
    metadata: dict[str, Any] = Field(description="The metadata you submitted with the job.")
    client: str | None = Field(
        default=None, description="The client that submitted it (null: the operator's own token)."
    )
    submitted_at: float | None = Field(description="Unix time the job was queued.")
    started_at: float | None = Field(description="Unix time its latest attempt started.")
    ended_at: float | None = Field(description="Unix time it finished or failed.")
    attempts: list[Attempt] = Field(description="Every attempt, oldest first.")
    deferrals: int = Field(description="Times it was put back because the gate closed before it could start.")
    spent: dict[str, int] = Field(description="Retry budget spent, per budget (auth, quota, job).")
    duplicate_runs: bool = Field(
        description="True when it finished more than once (a worker died after Claude answered); at least once."
    )
    next_attempt_at: float | None = Field(
        description="Unix time of its next attempt: a scheduled retry, or the gate's next probe while waiting."
    )
    result: Result | None = Field(description="The answer, once finished.")
    error: str | None = Field(description="Why it failed and what to do, once failed.")
    webhooks: list[WebhookTry] | None = Field(
        default=None, description="Jobs with a callback_url: every try of every webhook sent for it, oldest first."
    )


class JobCreated(BaseModel):
    id: str = Field(description="The job id.")
    status: Status = Field(description="Its status now (see JobView.status).")
    created: bool = Field(description="False when the idempotency key matched an existing job.")
    job: JobView = Field(description="The job.")


class JobPage(BaseModel):
    jobs: list[JobView] = Field(description="Jobs, newest first within each status.")
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last page.")


class Gate(BaseModel):
    state: State = Field(description="ready, or the word of the error that closed the gate.")
    until: float | None = Field(description="Closed: the earliest Unix time of the next probe.")
    reason: str = Field(description="Why the gate closed, in Claude's words (secrets removed).")
    since: float | None = Field(description="Unix time the current state began.")
    step: int = Field(description="Backoff step within this outage (0 for the first).")
    resets_at: float | None = Field(description="Unix time the usage limit resets, when Claude said.")
    limit_type: str | None = Field(description="Which usage limit (five_hour, seven_day, ...), when Claude said.")
    last_probe_at: float | None = Field(description="Unix time of the last probe.")
    last_probe_outcome: str | None = Field(description="What the last probe found.")
    last_success_at: float | None = Field(description="Unix time of the last successful Claude call.")
    last_failure_at: float | None = Field(description="Unix time of the last fleet-blocking failure.")
    last_failure: str | None = Field(description="The last fleet-blocking failure's word.")
    updated_at: float | None = Field(description="Unix time the record was last written.")
    label: str = Field(description="The state in the user guide's words (Ready, Auth Required, ...).")
    open: bool = Field(description="True when workers start jobs.")
    next_probe_in: float | None = Field(description="Seconds until the next probe; null when open.")
    action: str = Field(description="What an operator should do, with the exact command.")


class Queues(BaseModel):
    queued: int = Field(description="Jobs on the queue.")
    runnable: int = Field(description="Jobs a new worker could start now (0 while the gate is closed).")
    waiting: int = Field(description="Queued jobs waiting behind the closed gate (0 while it is open).")
    scheduled: int = Field(description="Retries waiting for their time.")
    started: int = Field(description="Jobs running now.")
    finished: int = Field(description="Finished jobs still kept.")
    failed: int = Field(description="Failed jobs still kept.")


class Worker(BaseModel):
    name: str = Field(description="The worker's name (host.pid.n).")
    state: str = Field(description="RQ's word: idle, busy, suspended, ...")
    current_job: str | None = Field(description="The job it runs now (null for a client: others' jobs are not shown).")
    last_heartbeat: str | None = Field(description="When it last reported (ISO 8601, UTC).")
    health_port: int | None = Field(description="The port of its own health server.")
    health_url: str | None = Field(description="Its /health address as it announced it.")
    health_slot: int | None = Field(description="Its slot N: the compose health gateway serves it on port 8080+N.")
    credential: bool | None = Field(description="Whether it has a Claude credential (null: not reported yet).")
    started_at: str | None = Field(description="When the worker started (ISO 8601, UTC): its uptime.")


class Spend(BaseModel):
    today_usd: float = Field(
        description="US dollars Claude jobs cost today (reported by the CLI, estimated for the API)."
    )
    this_week_usd: float = Field(description="US dollars since Monday, today included.")
    this_month_usd: float = Field(description="US dollars since the first of the month, today included.")
    timezone: str = Field(description="Where days begin (CLAUDE_WORKERS_TIMEZONE).")


class FleetView(BaseModel):
    state: State = Field(
        description="The fleet state word: the gate's, or auth_required while no worker has a credential."
    )
    label: str = Field(description="The state in the user guide's words.")
    action: str = Field(description="What an operator should do about the state, in words.")
    command: str | None = Field(
        default=None, description="The exact command that fixes the state, where one does (e.g. the login)."
    )
    gate: Gate = Field(description="The gate record: why it is closed and until when.")
    probe_holder: str | None = Field(description="The worker running the probe now, if any.")
    queues: Queues = Field(description="Queue depths.")
    workers: list[Worker] = Field(description="Workers alive now.")
    spend: Spend = Field(description="What the fleet's jobs cost today and this week (for a client: its own jobs).")


class BatchCreated(BaseModel):
    id: str = Field(description="The batch id (yours, or a new one).")
    total: int = Field(description="Items in the batch.")
    new: int = Field(description="Items queued by this request.")
    existing: int = Field(description="Items that were already queued (a re-submission).")


class BatchProgress(BaseModel):
    id: str = Field(description="The batch id.")
    submitted_at: float = Field(description="Unix time it was first submitted.")
    total: int = Field(description="Items in the batch.")
    ended: int = Field(description="Items whose job has ended (finished, failed or canceled).")
    complete: bool = Field(description="True when every item's job has ended.")


class BatchList(BaseModel):
    batches: list[BatchProgress] = Field(description="The most recent batches, newest first.")


class BatchSummary(BaseModel):
    id: str = Field(description="The batch id.")
    total: int = Field(description="Items in the batch.")
    counts: dict[str, int] = Field(description="Items per status (expired: the job is gone from Redis).")
    done: int = Field(description="Items that finished, failed, were canceled or expired.")
    complete: bool = Field(description="True when every item is done.")
    webhooks: list[WebhookTry] | None = Field(
        default=None, description="Batches with a callback_url: every try of the batch's webhook, oldest first."
    )
