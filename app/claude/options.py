"""How one prompt is run: the one model of a run's options.

``claude-workers run`` and ``submit`` (their flags are made from these fields), the HTTP API
and batches (``JobSpec`` adds the queue's own fields to it), and the worker all use this model.
Adding an option is one field here (with its description, which is also its ``--help`` and
its API documentation), its use in an engine, and its tests.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.claude import values

Engine = Literal["cli", "api"]
PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan", "default")
PermissionMode = Literal["acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan", "default"]
MAX_PROMPT_CHARS = 200_000
#: the JSON of metadata and json_schema together, once serialised
MAX_FREEFORM_BYTES = 64 * 1024
#: text for Claude, as the OpenAPI document states it: no NUL, no unpaired surrogate
TEXT = r"^[^\x00\ud800-\udfff]*$"
Tool = Annotated[str, Field(max_length=700, json_schema_extra={"pattern": values.TOOL.pattern})]


class RunOptions(BaseModel):
    """One prompt and how to run it. Unknown fields are refused so typos never pass silently."""

    # The grammars are checked by the validators below (their messages say what to write
    # instead); the OpenAPI document states them as patterns (json_schema_extra).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        json_schema_extra={"pattern": TEXT},
        description="What to ask Claude (up to 200,000 characters).",
    )
    engine: Engine = Field(
        default="cli",
        description="cli: the Claude Code CLI (agent, tools, subscription or key). "
        "api: the Anthropic SDK (plain prompts, API key only).",
    )
    model: str | None = Field(
        default=None,
        max_length=100,
        json_schema_extra={"pattern": values.MODEL.pattern},
        description="Model alias or full name (e.g. sonnet).",
    )
    system_prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        json_schema_extra={"pattern": TEXT},
        description="Replace the system prompt.",
    )
    append_system_prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        json_schema_extra={"pattern": TEXT},
        description="Append to the default system prompt.",
    )
    max_turns: int | None = Field(default=None, ge=1, le=10_000, description="Stop the agent after this many turns.")
    max_budget_usd: float | None = Field(
        default=None, ge=0.0001, le=100_000, description="Stop the agent at this cost in USD."
    )
    allowed_tools: list[Tool] = Field(
        default_factory=list, max_length=200, description="Tools Claude may use, e.g. Read, Bash(git diff:*)."
    )
    disallowed_tools: list[Tool] = Field(default_factory=list, max_length=200, description="Tools Claude may not use.")
    permission_mode: PermissionMode | None = Field(default=None, description="The CLI's permission mode.")
    resume_session_id: str | None = Field(
        default=None,
        max_length=36,
        description="Continue this Claude session (the session_id of an earlier result).",
        json_schema_extra={"cli_flag": "--resume", "pattern": values.SESSION_ID.pattern},
    )
    json_schema: dict[str, Any] | None = Field(
        default=None, description="A JSON schema for structured output (on the command line: JSON or @file)."
    )
    timeout: float | None = Field(
        default=None, ge=1, le=7 * 86400, description="Wall-clock limit in seconds (default CLAUDE_JOB_TIMEOUT)."
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the prompt is empty")
        return value

    @field_validator("prompt", "system_prompt", "append_system_prompt")
    @classmethod
    def _clean_text(cls, value: str | None) -> str | None:
        return None if value is None else values.check_text(value)

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        return None if value is None else values.check_model(value)

    @field_validator("resume_session_id")
    @classmethod
    def _session_id(cls, value: str | None) -> str | None:
        return None if value is None else values.check_session_id(value)

    @field_validator("allowed_tools", "disallowed_tools")
    @classmethod
    def _tools(cls, value: list[str]) -> list[str]:
        return [values.check_tool(tool) for tool in value]

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else freeform(value)

    def uses_agent_features(self) -> bool:
        """True when only the CLI engine can do this run (tools, turns, sessions, budgets, schemas)."""
        return bool(
            self.allowed_tools
            or self.disallowed_tools
            or self.permission_mode
            or self.resume_session_id
            or self.max_turns
            or self.max_budget_usd
            or self.json_schema is not None
        )


def freeform(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON a job carries: it must survive a round trip, and stay small."""
    values.check_json(value)
    if len(json.dumps(value)) > MAX_FREEFORM_BYTES:
        raise ValueError(f"is larger than {MAX_FREEFORM_BYTES} bytes as JSON")
    return value
