"""Run one prompt through the Claude Code CLI in headless mode and classify the outcome.

``claude [options] -p -- PROMPT --output-format stream-json --verbose``, as an argv list
(never a shell), stdin closed, in its own process group so a timeout kills every process
the CLI started, with an environment that carries exactly one credential.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

from app.claude.classify import StreamState, classify_exit, classify_result, retry_to_cut
from app.claude.credentials import Credential, CredentialKind
from app.claude.environment import child_env
from app.claude.request import ClaudeResult, RunRequest
from app.errors import ClaudeError, ConfigError
from app.proc import die_with_parent
from app.settings import Settings

EventHook = Callable[[dict[str, Any]], None]

KILL_GRACE_S = 3.0
STDERR_KEEP = 64 * 1024


def build_argv(binary: str, request: RunRequest) -> list[str]:
    """The CLI's argv. The prompt goes last, after ``--``, so text starting with ``-`` stays text."""
    argv = [binary, "--output-format", "stream-json", "--verbose"]
    if request.model:
        argv += ["--model", request.model]
    if request.max_turns is not None:
        argv += ["--max-turns", str(request.max_turns)]
    if request.max_budget_usd is not None:
        argv += ["--max-budget-usd", f"{request.max_budget_usd:g}"]
    if request.allowed_tools:
        argv += ["--allowedTools", ",".join(request.allowed_tools)]
    if request.disallowed_tools:
        argv += ["--disallowedTools", ",".join(request.disallowed_tools)]
    if request.permission_mode:
        argv += ["--permission-mode", request.permission_mode]
    if request.system_prompt:
        argv += ["--system-prompt", request.system_prompt]
    if request.append_system_prompt:
        argv += ["--append-system-prompt", request.append_system_prompt]
    if request.resume_session_id:
        argv += ["--resume", request.resume_session_id]
    if request.json_schema is not None:
        argv += ["--json-schema", json.dumps(request.json_schema)]
    return [*argv, "-p", "--", request.prompt]


def _child_setup() -> None:
    """In the child, before exec: its own process group, and SIGKILL if the job process dies first."""
    os.setpgrp()
    die_with_parent()


def kill_group(proc: subprocess.Popen[Any], grace: float = KILL_GRACE_S) -> None:
    """SIGTERM the run's whole process group, then SIGKILL whatever is left after ``grace``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class CliEngine:
    name = "cli"

    def __init__(self, settings: Settings, parent_env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.parent_env = os.environ if parent_env is None else parent_env

    def run(self, request: RunRequest, credential: Credential, on_event: EventHook | None = None) -> ClaudeResult:
        binary = self.settings.resolve_claude_bin()
        timeout = request.timeout or self.settings.claude_job_timeout
        env = child_env(self.settings, credential, self.parent_env)
        try:
            proc = subprocess.Popen(
                build_argv(binary, request),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=request.cwd,
                preexec_fn=_child_setup,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            raise ConfigError(f"Cannot start the Claude CLI ({binary}): {exc.strerror}.") from None
        stderr_tail: list[str] = []
        stderr_thread = threading.Thread(target=_drain, args=(proc.stderr, stderr_tail), daemon=True)
        stderr_thread.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            kill_group(proc)

        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        timer.start()
        state = StreamState()
        cut: ClaudeError | None = None
        try:
            can_refresh = credential.kind is CredentialKind.CLAUDE_AI_LOGIN
            cut = self._read(proc, state, on_event, can_refresh)
        finally:
            timer.cancel()
            if cut is not None or proc.poll() is None:
                kill_group(proc)
            proc.wait()
            stderr_thread.join(timeout=2)
        if cut is not None:
            raise cut
        if state.result is None:
            raise classify_exit(state, proc.returncode, "".join(stderr_tail), timed_out.is_set(), timeout)
        return classify_result(state)

    @staticmethod
    def _read(
        proc: subprocess.Popen[str], state: StreamState, on_event: EventHook | None, can_refresh: bool
    ) -> ClaudeError | None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            state.feed(event)
            if on_event is not None:
                on_event(event)
            if event.get("type") == "system" and event.get("subtype") == "api_retry":
                cut = retry_to_cut(event, can_refresh=can_refresh)
                if cut is not None:
                    return cut
        return None


def _drain(stream: IO[str] | None, keep: list[str]) -> None:
    if stream is None:
        return
    size = 0
    for chunk in stream:
        keep.append(chunk)
        size += len(chunk)
        while size > STDERR_KEEP and len(keep) > 1:
            size -= len(keep.pop(0))
