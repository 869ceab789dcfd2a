"""What to run (``RunRequest``) and what a successful run gave back (``ClaudeResult``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from app.claude.options import PERMISSION_MODES, Engine, RunOptions

__all__ = ["PERMISSION_MODES", "ClaudeResult", "Engine", "RunOptions", "RunRequest"]


class RunRequest(RunOptions):
    """A run's options and where it runs. Engine-neutral; each engine maps what it supports."""

    cwd: Path | None = Field(default=None, exclude=True)
    #: where a queued job keeps the CLI's own state between its attempts (its transcript survives a SIGKILL)
    state_dir: Path | None = Field(default=None, exclude=True)
    max_tokens: int | None = Field(default=None, gt=0, exclude=True)


@dataclass
class ClaudeResult:
    """A successful run."""

    text: str
    engine: Engine
    session_id: str | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    num_turns: int | None = None
    duration_ms: int | None = None
    model: str | None = None
    structured_output: Any = None
    rate_limit: dict[str, Any] | None = None  # the last rate_limit_event info, when the run saw one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
