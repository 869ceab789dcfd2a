"""``claude-workers run``: one prompt, now, no queue."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from app.claude.outcome import exit_code, outcome
from app.claude.request import RunRequest
from app.claude.runner import run_claude
from app.cli.options import build, job_options, read_prompt
from app.errors import ClaudeError
from app.settings import get_settings


@click.command("run")
@click.argument("prompt")
@job_options
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Directory to run in.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the state and the result.")
def run_command(prompt: str, cwd: Path | None, as_json: bool, **options: Any) -> None:
    """Run PROMPT through Claude once, synchronously, without the queue (use - for stdin).

    \b
    Exit codes: 0 ready, 1 error, 2 bad usage, 10 auth_required,
    11 quota_exceeded, 12 rate_limited, 13 overloaded, 14 billing_required.
    """
    request = build(RunRequest, read_prompt(prompt), options, cwd=cwd)
    try:
        result = run_claude(request, get_settings())
    except ClaudeError as error:
        payload = outcome(error=error)
        if as_json:
            click.echo(json.dumps(payload))
        else:
            click.echo(f"{error.state}: {error}", err=True)
        sys.exit(exit_code(error.state))
    if as_json:
        click.echo(json.dumps(outcome(result=result)))
    else:
        click.echo(result.text)
