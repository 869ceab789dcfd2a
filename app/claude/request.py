"""What to run (``RunRequest``) and what a successful run gave back (``ClaudeResult``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.claude import values
from app.errors import InvalidRequest

Engine = Literal["cli", "api"]
PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan", "default")


@dataclass(frozen=True)
class RunRequest:
    """One prompt and the options of its run. Engine-neutral; each engine maps what it supports."""

    prompt: str
    engine: Engine = "cli"
    model: str | None = None
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    permission_mode: str | None = None
    resume_session_id: str | None = None
    json_schema: dict[str, Any] | None = None
    timeout: float | None = None
    max_tokens: int | None = None
    cwd: Path | None = None

    def __post_init__(self) -> None:
        # the engines' last line of defence; JobSpec refuses the same values with a 422 first
        checks: list[tuple[str, str | None, Any]] = [
            ("prompt", self.prompt, values.check_text),
            ("system_prompt", self.system_prompt, values.check_text),
            ("append_system_prompt", self.append_system_prompt, values.check_text),
            ("model", self.model, values.check_model),
            ("resume_session_id", self.resume_session_id, values.check_session_id),
            ("permission_mode", self.permission_mode, _check_permission_mode),
            *(("allowed_tools", tool, values.check_tool) for tool in self.allowed_tools),
            *(("disallowed_tools", tool, values.check_tool) for tool in self.disallowed_tools),
        ]
        for name, value, check in checks:
            if value is None:
                continue
            try:
                check(value)
            except ValueError as exc:
                raise InvalidRequest(f"{name} {exc}.", hint="Fix this field of the job and submit it again.") from None

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


def _check_permission_mode(value: str) -> str:
    if value not in PERMISSION_MODES:
        raise ValueError(f"must be one of {', '.join(PERMISSION_MODES)}")
    return value
