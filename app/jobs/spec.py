"""The job spec: a run's options (``RunOptions``) and what only the queue needs, validated once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from app.claude.options import RunOptions, freeform
from app.claude.request import RunRequest
from app.claude.values import check_text

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
#: a named workspace: up to 5 path parts of letters, digits and _ . -, each starting with a letter or digit
_WORKSPACE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: a git branch, tag or commit: no leading dash (never an option), no "..", no control characters
REF = r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$"
WORKSPACE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}){0,4}$"


def callback_url_grammar(value: str) -> str:
    """An absolute http(s) URL with a host, no credentials in it and nothing a request line cannot carry."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user or password (the call is signed instead)")
    return value


class JobSpec(RunOptions):
    """One Claude job: how to run it, and how the queue keeps it."""

    workspace: str | None = Field(
        default=None,
        max_length=1000,
        json_schema_extra={"pattern": WORKSPACE},
        description="Run in this named workspace (kept between jobs) instead of a fresh one, e.g. team/reports.",
    )
    keep_workspace: bool = Field(default=False, description="Keep the job's fresh workspace after it ends.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Yours: stored with the job, shown with it.")
    idempotency_key: str | None = Field(
        default=None,
        pattern=_IDEMPOTENCY_KEY.pattern,
        description="The same key returns the same job, never a second one.",
    )
    priority: Literal["normal", "high"] = Field(default="normal", description="high: to the front of the queue.")
    resume: bool = Field(
        default=True,
        description="When an attempt is cut off (a usage limit, a logout, a timeout, a killed worker), the next one "
        "continues the same Claude session in the same workspace instead of starting over. false: start over.",
    )
    resume_prompt: str | None = Field(
        default=None,
        max_length=10_000,
        description="What a resumed session is told first (default: continue the task from where it stopped).",
    )
    repo: str | None = Field(
        default=None,
        max_length=2048,
        description="Start from this git repository (an https URL or a local path the operator allows in "
        "CLAUDE_WORKERS_ALLOWED_REPOS), cloned into the job's fresh workspace; the result then carries a patch "
        "that applies to ref.",
    )
    ref: str | None = Field(
        default=None,
        max_length=200,
        json_schema_extra={"pattern": REF},
        description="The branch, tag or commit of repo to start from (default: its default branch).",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="When the job ends, POST its view here, signed (docs/webhooks.md). http or https; "
        "public addresses only unless the operator allows private ones.",
    )

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return freeform(value)

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

    @field_validator("resume_prompt")
    @classmethod
    def _resume_prompt(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not re.match(REF, value):
            raise ValueError("must be a branch, tag or commit name: letters, digits and . _ / @ + -, no leading -")
        return value

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("-") or any(c.isspace() or ord(c) < 0x20 for c in value):
            raise ValueError("must be an https:// URL or an absolute path, with no spaces or control characters")
        if value.startswith("https://") and ("/../" in value + "/" or "%2e" in value.lower()):
            raise ValueError("must not climb out of its path with ..")
        if not (value.startswith("https://") or value.startswith("/")):
            raise ValueError("must be an https:// URL or an absolute local path (no ssh://, git://, file:// or ext::)")
        return value

    @model_validator(mode="after")
    def _repo_needs_a_fresh_workspace(self) -> JobSpec:
        if self.repo is not None and self.workspace is not None:
            raise ValueError("repo clones into the job's fresh workspace; leave workspace out")
        if self.ref is not None and self.repo is None:
            raise ValueError("ref needs repo")
        return self

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        return None if value is None else callback_url_grammar(value)

    def to_run_request(self, cwd: Path | None) -> RunRequest:
        return RunRequest(**self.model_dump(include=set(RunOptions.model_fields)), cwd=cwd)
