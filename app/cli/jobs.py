"""``claude-workers jobs``: look at and act on single jobs."""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli import render
from app.cli.context import connect, gate_state
from app.states import ENDED_STATUSES, JOB_STATUSES

if TYPE_CHECKING:
    from redis import Redis

    from app.fleet.state import FleetState
    from app.settings import Settings


@click.group("jobs")
def jobs_group() -> None:
    """Show, requeue and cancel jobs."""


def _gate_state() -> tuple[Settings, Redis, FleetState]:
    settings, conn = connect()
    return settings, conn, gate_state(conn, settings)


@jobs_group.command("list")
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this status.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", help="The next_cursor printed by the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print {jobs, next_cursor} as JSON (same as GET /jobs).")
def list_command(status: str | None, limit: int, cursor: str | None, as_json: bool) -> None:
    """List jobs, newest first within each status."""
    from app.jobs import service

    settings, conn, gate = _gate_state()
    views, next_cursor = service.list_jobs(conn, settings, gate, status, limit, cursor)
    if as_json:
        click.echo(json.dumps({"jobs": views, "next_cursor": next_cursor}, default=str))
        return
    render.job_list(views)
    if next_cursor:
        click.echo(f"more: claude-workers jobs list --cursor {next_cursor}" + (f" --status {status}" if status else ""))


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job object as JSON.")
def show_command(job_id: str, as_json: bool) -> None:
    """Show one job: status, attempts, result or error."""
    from app.jobs import service

    settings, conn, gate = _gate_state()
    view = service.job_view(service.fetch(conn, job_id, settings), gate)
    if as_json:
        click.echo(json.dumps(view, default=str))
        return
    render.job(view)


@jobs_group.command("files")
@click.argument("job_id")
@click.argument("paths", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write them into (default: ./job-<short id>).",
)
def files_command(job_id: str, paths: tuple[str, ...], out: Path | None) -> None:
    """Copy a kept job's workspace (or only PATHS in it) to a directory.

    \b
    The workspace is there while the job runs, and afterwards when it was submitted with
    --keep-workspace or a named --workspace. Over HTTP: GET /jobs/{id}/files (a tar stream).
    """
    from app.jobs import files

    settings, conn = connect()
    full_id, root = files.workspace_of(conn, settings, job_id)
    chosen = files.select(root, list(paths))
    target = out or Path(f"job-{full_id[:8]}")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        for chunk in files.tar_stream(root, chosen):
            archive.write(chunk)
        archive.seek(0)
        skipped: list[str] = []

        def safe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
            try:  # the "data" filter refuses links that lead out of the target, and special files
                return tarfile.data_filter(member, dest)
            except tarfile.FilterError:
                skipped.append(member.name)
                return None

        with tarfile.open(fileobj=archive) as tar:
            names = [m.name for m in tar.getmembers() if m.isfile()]
            tar.extractall(target, filter=safe)
    click.echo(f"{len(names)} files of job {full_id} in {target}")
    if skipped:
        click.echo(f"not copied (links that lead out of the workspace): {', '.join(skipped)}", err=True)


@jobs_group.command("requeue")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job object as JSON.")
def requeue_command(job_id: str, as_json: bool) -> None:
    """Put a failed job back on the queue with fresh retry budgets."""
    from app.jobs import service

    settings, conn, gate = _gate_state()
    job = service.requeue(conn, settings, job_id)
    view = service.job_view(job, gate)
    click.echo(json.dumps(view, default=str) if as_json else f"{job.id} requeued ({view['status']})")


@jobs_group.command("cancel")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job object as JSON.")
def cancel_command(job_id: str, as_json: bool) -> None:
    """Cancel a job that has not started."""
    from app.jobs import service

    settings, conn, gate = _gate_state()
    job = service.cancel(conn, settings, job_id)
    view = service.job_view(job, gate)
    click.echo(json.dumps(view, default=str) if as_json else f"{job.id} canceled")


@jobs_group.command("watch")
@click.argument("job_id", required=False)
@click.option("--batch", "batch_id", help="Watch every job of this batch instead.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event (the API's /events data).")
def watch_command(job_id: str | None, batch_id: str | None, as_json: bool) -> None:
    """Show a job's life as it happens (its events so far, then live), until it ends.

    \b
    claude-workers jobs watch ID           one job, until it finishes, fails or is canceled
    claude-workers jobs watch --batch ID   a batch, until every job of it has ended
    claude-workers jobs watch              every event of the fleet, until Ctrl-C
    """
    from app.fleet import events
    from app.fleet.keys import Keys
    from app.jobs import batch, service

    if job_id and batch_id:
        raise click.UsageError("Give a job id or --batch, not both.")
    settings, conn = connect()
    keys = Keys(settings.claude_workers_prefix)
    if job_id:
        job_id = service.resolve(conn, settings, job_id)
    if batch_id:
        batch.summary(conn, settings, batch_id)  # a batch that does not exist is an error, not a silent wait
    after = "0" if (job_id or batch_id) else events.latest_id(conn, keys)
    for event in events.follow(conn, keys, after, job=job_id, batch=batch_id):
        if event is None:  # quiet: a job whose events were trimmed away may have ended long ago
            if job_id and service.public_status(service.fetch(conn, job_id), None) in ENDED_STATUSES:
                return
            continue
        click.echo(json.dumps(event.to_dict()) if as_json else render.event_line(event.to_dict()))
        if event.kind in events.JOB_ENDS:
            if job_id:
                return
            if batch_id and batch.summary(conn, settings, batch_id)["complete"]:
                return
