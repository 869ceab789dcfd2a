"""The one way to run Claude: pick the credential and the engine, run, return or raise.

Both engines take a ``RunRequest`` and a ``Credential`` and either return a
``ClaudeResult`` or raise one error from ``app.errors``; callers never see an engine's
own exceptions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from app.claude.api_engine import ApiEngine
from app.claude.cli_engine import CliEngine
from app.claude.credentials import Credential, inspect_credentials
from app.claude.request import ClaudeResult, RunRequest
from app.errors import SETUP_COMMAND, AuthRequired
from app.settings import Settings

EventHook = Callable[[dict[str, Any]], None]


class Engine(Protocol):
    name: str

    def run(self, request: RunRequest, credential: Credential, on_event: EventHook | None = None) -> ClaudeResult: ...


ENGINES: dict[str, Callable[[Settings, Mapping[str, str] | None], Engine]] = {"cli": CliEngine, "api": ApiEngine}


def run_claude(
    request: RunRequest,
    settings: Settings,
    *,
    on_event: EventHook | None = None,
    parent_env: Mapping[str, str] | None = None,
) -> ClaudeResult:
    """Run ``request`` once. Raises ``AuthRequired`` without starting anything when no credential exists."""
    report = inspect_credentials(settings)
    if report.credential is None:
        detail = " ".join(report.problems)
        raise AuthRequired(
            f"No Claude credential is configured in {settings.config_dir} or the environment."
            + (f" {detail}" if detail else ""),
            hint=f"Log in once for the whole fleet: {SETUP_COMMAND}",
        )
    engine = ENGINES[request.engine](settings, os.environ if parent_env is None else parent_env)
    return engine.run(request, report.credential, on_event)
