"""``claude-workers submit``: queue one job, optionally wait for its result."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from app.cli import render
from app.cli.context import connect, echo_json, gate_state
from app.cli.options import build, options_of, read_prompt
from app.jobs.spec import JobSpec
from app.states import ENDED_STATUSES

FINAL = ENDED_STATUSES


def _metadata(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--metadata")
        pairs[key] = val
    return pairs


def describe(view: dict[str, Any]) -> str:
    status = view["status"]
    extra = ""
    if status in ("waiting", "scheduled") and view.get("next_attempt_at"):
        extra = f", next attempt in {max(0, view['next_attempt_at'] - time.time()):.0f}s"
    attempts = len(view.get("attempts") or [])
    return f"job {view['id'][:12]}: {status}{extra}" + (f" (attempt {attempts})" if attempts else "")


def wait_for(conn: Any, settings: Any, job_id: str, timeout: float | None, after: str) -> dict[str, Any]:
    """Follow the job's events until it ends, showing a live status line on a terminal (plain lines otherwise).

    ``after``: the event id from before the job was queued, so none of its events is missed.
    """
    from app.fleet import events
    from app.fleet.keys import Keys
    from app.jobs import service

    deadline = None if timeout is None else time.monotonic() + timeout
    live = sys.stderr.isatty()
    last = ""
    keys = Keys(settings.claude_workers_prefix)
    for _ in events.follow(conn, keys, after, job=job_id, block_ms=2000):
        # every event of the job, and each quiet 2 s (the countdown moves), shows where it stands
        view = service.job_view(service.fetch(conn, job_id), gate_state(conn, settings))
        line = describe(view)
        if line != last:
            click.echo(("\r\033[K" + line) if live else line, err=True, nl=not live)
            last = line
        if view["status"] in FINAL:
            if live:
                click.echo("", err=True)
            return view
        if deadline is not None and time.monotonic() > deadline:
            if live:
                click.echo("", err=True)
            raise click.ClickException(f"Job {job_id} is still {view['status']} after {timeout:g}s; it keeps running.")
    raise AssertionError("the event stream does not end")


def print_outcome(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(view)
    else:
        render.outcome(view)
    if view["status"] != "finished":
        sys.exit(1)


@click.command("submit")
@click.argument("prompt")
@options_of(JobSpec, skip=("prompt", "metadata"))
@click.option("--metadata", "-m", multiple=True, help="KEY=VALUE stored with the job (repeat).")
@click.option("--wait", is_flag=True, help="Show the job's status until it ends, then print the result.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), help="Give up waiting after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the job object (with its id) as JSON.")
def submit_command(prompt: str, wait: bool, wait_timeout: float | None, as_json: bool, **options: Any) -> None:
    """Queue PROMPT as a Claude job (use - to read it from stdin)."""
    from app.jobs import service
    from app.jobs.submit import enqueue

    metadata = _metadata(options.pop("metadata"))
    spec = build(JobSpec, read_prompt(prompt), options, **({"metadata": metadata} if metadata else {}))
    from app.fleet import events
    from app.fleet.keys import Keys

    settings, conn = connect()
    before = events.latest_id(conn, Keys(settings.claude_workers_prefix))
    job, created = enqueue(conn, settings, spec)
    if not wait:
        view = service.job_view(job, gate_state(conn, settings))
        if as_json:
            echo_json(view)
        else:
            click.echo(job.id)
            if not created:
                click.echo("(an existing job: the idempotency key matched)", err=True)
        return
    print_outcome(wait_for(conn, settings, job.id, wait_timeout, before), as_json)
