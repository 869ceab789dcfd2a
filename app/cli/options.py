"""Job options shared by every command that runs or submits a prompt."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from app.claude.request import PERMISSION_MODES, RunRequest

F = TypeVar("F", bound=Callable[..., Any])


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.strip() for v in values for t in v.split(",") if t.strip())


def _json_schema(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from None
    if not isinstance(schema, dict):
        raise click.BadParameter("must be a JSON object")
    return schema


def job_options(func: F) -> F:
    """Add the job's options (model, turns, budget, tools, …) to a click command."""
    decorators = [
        click.option(
            "--engine",
            type=click.Choice(["cli", "api"]),
            default="cli",
            show_default=True,
            help="cli: the Claude Code CLI (agent, tools, subscription or key). "
            "api: the Anthropic SDK (plain prompts, API key only).",
        ),
        click.option("--model", help="Model alias or full name (e.g. sonnet, opus)."),
        click.option("--system-prompt", help="Replace the system prompt."),
        click.option("--append-system-prompt", help="Append to the default system prompt."),
        click.option("--max-turns", type=click.IntRange(min=1), help="Stop the agent after this many turns."),
        click.option("--max-budget-usd", type=click.FloatRange(min=0, min_open=True), help="Stop at this cost."),
        click.option("--allowed-tools", multiple=True, help="Tools Claude may use (repeat or comma-separate)."),
        click.option("--disallowed-tools", multiple=True, help="Tools Claude may not use."),
        click.option("--permission-mode", type=click.Choice(PERMISSION_MODES), help="The CLI's permission mode."),
        click.option("--resume", "resume_session_id", help="Continue this Claude session id."),
        click.option("--json-schema", callback=_json_schema, help="JSON schema for structured output (or @file)."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            help="Wall-clock limit in seconds (default CLAUDE_JOB_TIMEOUT).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def read_prompt(prompt: str) -> str:
    """The prompt argument, or standard input when it is ``-``."""
    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise click.BadParameter("the prompt is empty", param_hint="PROMPT")
    return text


def run_request_from(prompt: str, options: dict[str, Any], cwd: Path | None = None) -> RunRequest:
    return RunRequest(
        prompt=prompt,
        engine=options["engine"],
        model=options["model"],
        system_prompt=options["system_prompt"],
        append_system_prompt=options["append_system_prompt"],
        max_turns=options["max_turns"],
        max_budget_usd=options["max_budget_usd"],
        allowed_tools=_split(options["allowed_tools"]),
        disallowed_tools=_split(options["disallowed_tools"]),
        permission_mode=options["permission_mode"],
        resume_session_id=options["resume_session_id"],
        json_schema=options["json_schema"],
        timeout=options["timeout"],
        cwd=cwd,
    )
