"""What a job may ask for: the operator's call, checked before anything is queued.

Settings (``*`` allows everything of that kind):

* ``CLAUDE_WORKERS_ALLOWED_TOOLS``: tools a job may list in ``allowed_tools`` (by name; a rule
  such as ``Bash(git diff:*)`` counts as ``Bash``). No ``Bash`` by default.
* ``CLAUDE_WORKERS_ALLOWED_PERMISSION_MODES``: no ``bypassPermissions`` and no ``auto`` by
  default (both let the agent run commands nobody listed).
* ``CLAUDE_WORKERS_ALLOWED_MODELS``: any by default.
* ``CLAUDE_WORKERS_MAX_TURNS``, ``CLAUDE_WORKERS_MAX_BUDGET_USD``, ``CLAUDE_WORKERS_MAX_TIMEOUT``:
  the most a job may ask for.
* ``CLAUDE_WORKERS_ALLOWED_REPOS``: prefixes of the https URLs and local directories a job's
  ``repo`` may come from; none by default.

A job outside them is refused with a message naming the setting that refused it; the worker
checks again before it runs a job (whatever reached Redis some other way).
"""

from __future__ import annotations

import os

from app.errors import ClaudeWorkersError
from app.jobs.spec import JobSpec
from app.settings import Settings


class PolicyViolation(ClaudeWorkersError):
    """The job asks for something the operator does not allow (HTTP 403)."""


def _allowed(setting: str) -> set[str] | None:
    """The allowed names, or None for ``*`` (everything)."""
    names = {n.strip() for n in setting.split(",") if n.strip()}
    return None if "*" in names else names


def _refuse(what: str, setting: str, current: str) -> PolicyViolation:
    return PolicyViolation(
        f"This fleet does not allow {what}.",
        hint=f"Allowed by {setting}={current!r}; the operator can change it (docs/configuration.md).",
    )


def check(spec: JobSpec, settings: Settings) -> None:
    """Raise PolicyViolation when ``spec`` asks for more than the settings allow."""
    tools = _allowed(settings.claude_workers_allowed_tools)
    if tools is not None:
        for rule in spec.allowed_tools:
            if rule.split("(", 1)[0] not in tools:
                raise _refuse(
                    f"the tool {rule!r}", "CLAUDE_WORKERS_ALLOWED_TOOLS", settings.claude_workers_allowed_tools
                )
    modes = _allowed(settings.claude_workers_allowed_permission_modes)
    if spec.permission_mode is not None and modes is not None and spec.permission_mode not in modes:
        raise _refuse(
            f"permission_mode {spec.permission_mode!r}",
            "CLAUDE_WORKERS_ALLOWED_PERMISSION_MODES",
            settings.claude_workers_allowed_permission_modes,
        )
    models = _allowed(settings.claude_workers_allowed_models)
    if spec.model is not None and models is not None and spec.model not in models:
        raise _refuse(
            f"the model {spec.model!r}", "CLAUDE_WORKERS_ALLOWED_MODELS", settings.claude_workers_allowed_models
        )
    limits = (
        ("max_turns", spec.max_turns, settings.claude_workers_max_turns, "CLAUDE_WORKERS_MAX_TURNS"),
        (
            "max_budget_usd",
            spec.max_budget_usd,
            settings.claude_workers_max_budget_usd,
            "CLAUDE_WORKERS_MAX_BUDGET_USD",
        ),
        ("timeout", spec.timeout, settings.claude_workers_max_timeout, "CLAUDE_WORKERS_MAX_TIMEOUT"),
    )
    for field, asked, most, setting in limits:
        if asked is not None and most is not None and asked > most:
            raise _refuse(f"{field}={asked:g} (at most {most:g})", setting, f"{most:g}")
    _check_repo(spec.repo, settings)


def _check_repo(repo: str | None, settings: Settings) -> None:
    if repo is None:
        return
    setting = settings.claude_workers_allowed_repos
    prefixes = [p.strip() for p in setting.split(",") if p.strip()]
    if repo.startswith("https://"):
        allowed = any(p.startswith("https://") and repo.startswith(p) for p in prefixes)
    else:  # a local path: where it really is, past any symlink or ".."
        real = os.path.realpath(repo)
        bases = [os.path.realpath(p) for p in prefixes if p.startswith("/")]
        allowed = any(real == base or real.startswith(base.rstrip("/") + "/") for base in bases)
    if not allowed:
        raise _refuse(f"the repo {repo!r}", "CLAUDE_WORKERS_ALLOWED_REPOS", setting)
