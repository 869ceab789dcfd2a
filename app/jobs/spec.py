"""The job spec: everything a queued Claude job carries, validated in one place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.claude import values
from app.claude.request import PERMISSION_MODES, RunRequest

MAX_PROMPT_CHARS = 200_000
#: the JSON of metadata and json_schema together, once serialised
MAX_FREEFORM_BYTES = 64 * 1024
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
#: a named workspace: up to 5 path parts of letters, digits and _ . -, each starting with a letter or digit
_WORKSPACE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
WORKSPACE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}){0,4}$"
#: text for Claude, as the OpenAPI document states it: no NUL, no unpaired surrogate
TEXT = r"^[^\x00\ud800-\udfff]*$"
Tool = Annotated[str, Field(pattern=values.TOOL.pattern, max_length=700)]


class JobSpec(BaseModel):
    """One Claude job. Unknown fields are refused so typos never pass silently."""

    # python-re: the text pattern names surrogates, which the default (Rust) engine cannot
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, regex_engine="python-re")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=TEXT)
    engine: Literal["cli", "api"] = "cli"
    model: str | None = Field(default=None, max_length=200, pattern=values.MODEL.pattern)
    system_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS, pattern=TEXT)
    append_system_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS, pattern=TEXT)
    max_turns: int | None = Field(default=None, ge=1, le=10_000)
    max_budget_usd: float | None = Field(default=None, ge=0.0001, le=100_000)
    allowed_tools: list[Tool] = Field(default_factory=list, max_length=200)
    disallowed_tools: list[Tool] = Field(default_factory=list, max_length=200)
    permission_mode: Literal[PERMISSION_MODES] | None = None  # type: ignore[valid-type]
    resume_session_id: str | None = Field(default=None, max_length=200, pattern=values.SESSION_ID.pattern)
    workspace: str | None = Field(default=None, max_length=1000, pattern=WORKSPACE)
    keep_workspace: bool = False
    timeout: float | None = Field(default=None, ge=1, le=7 * 86400)
    json_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, pattern=_IDEMPOTENCY_KEY.pattern)
    priority: Literal["normal", "high"] = "normal"

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

    @field_validator("metadata", "json_schema")
    @classmethod
    def _freeform_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        values.check_json(value)
        if len(json.dumps(value)) > MAX_FREEFORM_BYTES:
            raise ValueError(f"is larger than {MAX_FREEFORM_BYTES} bytes as JSON")
        return value

    @field_validator("idempotency_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        if value is not None and not _IDEMPOTENCY_KEY.match(value):
            raise ValueError("use 1-200 characters from A-Z a-z 0-9 _ . : -")
        return value

    @field_validator("workspace")
    @classmethod
    def _workspace_relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split("/")
        if len(parts) > 5 or not all(_WORKSPACE_PART.match(part) for part in parts):
            raise ValueError(
                "must be a name like 'reports' or 'team/reports': up to 5 parts of letters, digits and _ . -"
            )
        return value

    def to_run_request(self, cwd: Path | None) -> RunRequest:
        return RunRequest(
            prompt=self.prompt,
            engine=self.engine,
            model=self.model,
            system_prompt=self.system_prompt,
            append_system_prompt=self.append_system_prompt,
            max_turns=self.max_turns,
            max_budget_usd=self.max_budget_usd,
            allowed_tools=tuple(self.allowed_tools),
            disallowed_tools=tuple(self.disallowed_tools),
            permission_mode=self.permission_mode,
            resume_session_id=self.resume_session_id,
            json_schema=self.json_schema,
            timeout=self.timeout,
            cwd=cwd,
        )
