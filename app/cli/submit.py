"""``claude-workers submit``: queue one job, optionally wait for its result."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from pydantic import ValidationError

from app.cli.context import connect, echo_json, gate_state
from app.cli.options import job_options, read_prompt
from app.jobs import service
from app.jobs.spec import JobSpec
from app.jobs.submit import enqueue

FINAL = ("finished", "failed", "canceled")


def _metadata(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--metadata")
        pairs[key] = val
    return pairs


def spec_from_options(prompt: str, options: dict[str, Any]) -> JobSpec:
    fields = {
        "prompt": prompt,
        "engine": options["engine"],
        "model": options["model"],
        "system_prompt": options["system_prompt"],
        "append_system_prompt": options["append_system_prompt"],
        "max_turns": options["max_turns"],
        "max_budget_usd": options["max_budget_usd"],
        "allowed_tools": [t.strip() for v in options["allowed_tools"] for t in v.split(",") if t.strip()],
        "disallowed_tools": [t.strip() for v in options["disallowed_tools"] for t in v.split(",") if t.strip()],
        "permission_mode": options["permission_mode"],
        "resume_session_id": options["resume_session_id"],
        "json_schema": options["json_schema"],
        "timeout": options["timeout"],
        "workspace": options["workspace"],
        "keep_workspace": options["keep_workspace"],
        "metadata": _metadata(options["metadata"]),
        "idempotency_key": options["idempotency_key"],
        "priority": options["priority"],
    }
    try:
        return JobSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.BadParameter(err["msg"], param_hint=".".join(str(p) for p in err["loc"])) from None


def describe(view: dict[str, Any]) -> str:
    status = view["status"]
    extra = ""
    if status in ("waiting", "scheduled") and view.get("next_attempt_at"):
        extra = f", next attempt in {max(0, view['next_attempt_at'] - time.time()):.0f}s"
    attempts = len(view.get("attempts") or [])
    return f"job {view['id'][:12]}: {status}{extra}" + (f" (attempt {attempts})" if attempts else "")


def wait_for(conn: Any, settings: Any, job_id: str, timeout: float | None) -> dict[str, Any]:
    """Poll until the job ends, showing a live status line on a terminal (plain lines otherwise)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    live = sys.stderr.isatty()
    last = ""
    while True:
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
        time.sleep(0.5)


def print_outcome(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(view)
    elif view["status"] == "finished":
        click.echo((view["result"] or {}).get("text", ""))
    else:
        click.echo(view["error"] or f"job {view['id']} {view['status']}", err=True)
    if view["status"] != "finished":
        sys.exit(1)


@click.command("submit")
@click.argument("prompt")
@job_options
@click.option("--workspace", help="Run in this directory under CLAUDE_WORKSPACE_ROOT (default: a fresh one).")
@click.option("--keep-workspace", is_flag=True, help="Keep the fresh workspace after the job.")
@click.option("--metadata", "-m", multiple=True, help="KEY=VALUE stored with the job (repeat).")
@click.option("--idempotency-key", help="The same key returns the same job, never a second one.")
@click.option("--priority", type=click.Choice(["normal", "high"]), default="normal", show_default=True)
@click.option("--wait", is_flag=True, help="Show the job's status until it ends, then print the result.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), help="Give up waiting after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the job object (with its id) as JSON.")
def submit_command(prompt: str, wait: bool, wait_timeout: float | None, as_json: bool, **options: Any) -> None:
    """Queue PROMPT as a Claude job (use - to read it from stdin)."""
    spec = spec_from_options(read_prompt(prompt), options)
    settings, conn = connect()
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
    print_outcome(wait_for(conn, settings, job.id, wait_timeout), as_json)
