"""The job spec: a run's options (``RunOptions``) and what only the queue needs, validated once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from app.claude.options import RunOptions, freeform
from app.claude.request import RunRequest

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
#: a named workspace: up to 5 path parts of letters, digits and _ . -, each starting with a letter or digit
_WORKSPACE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
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

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        return None if value is None else callback_url_grammar(value)

    def to_run_request(self, cwd: Path | None) -> RunRequest:
        return RunRequest(**self.model_dump(include=set(RunOptions.model_fields)), cwd=cwd)
