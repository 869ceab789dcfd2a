"""Run one prompt through the Claude Code CLI in headless mode and classify the outcome.

``claude --output-format=stream-json --verbose [--name=value ...] -p`` as an argv list (never
a shell), the prompt on stdin (so its size limit is ours, not the kernel's 128 KiB per argv
string), in its own process group so a timeout kills every process the CLI started, with an
environment that carries exactly one credential. Every option value is one ``--name=value``
element: a value that starts with ``-`` is still a value, never a flag of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from app.claude import sandbox
from app.claude.classify import StreamState, classify_exit, classify_result, retry_to_cut
from app.claude.credentials import Credential
from app.claude.environment import child_env
from app.claude.request import ClaudeResult, RunRequest
from app.claude.run_place import run_place
from app.errors import ClaudeError, ConfigError
from app.proc import die_with_parent
from app.settings import Settings

EventHook = Callable[[dict[str, Any]], None]

KILL_GRACE_S = 3.0
STDERR_KEEP = 64 * 1024


def build_argv(binary: str, request: RunRequest) -> list[str]:
    """The CLI's argv. The prompt is not in it: it goes to the CLI's stdin."""
    options: list[tuple[str, str | None]] = [
        ("output-format", "stream-json"),
        ("model", request.model),
        ("max-turns", None if request.max_turns is None else str(request.max_turns)),
        ("max-budget-usd", None if request.max_budget_usd is None else f"{request.max_budget_usd:.6f}"),
        ("allowedTools", ",".join(request.allowed_tools) or None),
        ("disallowedTools", ",".join(request.disallowed_tools) or None),
        ("permission-mode", request.permission_mode),
        ("system-prompt", request.system_prompt),
        ("append-system-prompt", request.append_system_prompt),
        ("resume", request.resume_session_id),
        ("json-schema", None if request.json_schema is None else json.dumps(request.json_schema)),
    ]
    argv = [binary, "--verbose"]
    argv += [f"--{name}={value}" for name, value in options if value is not None]
    return [*argv, "-p"]


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
        with run_place(self.settings, credential, request.resume_session_id, request.state_dir) as place:
            argv = build_argv(binary, request)
            proxy = place.proxy
            # the credential stays with the proxy; the run gets its address and a job token
            client = proxy.client_env(sandbox.relay_url() if proxy.socket_path else None)
            env = child_env(self.settings, self.parent_env, config_dir=place.config_dir, client=client)
            cwd = request.cwd or Path.cwd()
            if proxy.socket_path is not None:  # sandboxed: the proxy listens on a socket the sandbox sees
                argv = sandbox.wrap(
                    argv, workspace=cwd, config_dir=place.config_dir, socket_path=proxy.socket_path, env=env
                )
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's own; the run gets --setenv
            return self._run(argv, env, cwd, request, on_event)

    def _run(
        self, argv: list[str], env: dict[str, str], cwd: Path, request: RunRequest, on_event: EventHook | None
    ) -> ClaudeResult:
        timeout = request.timeout or self.settings.claude_job_timeout
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                preexec_fn=_child_setup,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            raise ConfigError(f"Cannot start the Claude CLI ({argv[0]}): {exc.strerror}.") from None
        prompt_thread = threading.Thread(target=_feed, args=(proc.stdin, request.prompt), daemon=True)
        prompt_thread.start()
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
            # the CLI holds only the proxy's token, which it cannot refresh: a 401 is final at once
            cut = self._read(proc, state, on_event, can_refresh=False)
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


def _feed(stream: IO[str] | None, prompt: str) -> None:
    """Write the prompt and close stdin (in a thread: a large prompt must not block reading)."""
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):  # the CLI died first: its exit says why
        stream.write(prompt)
    with contextlib.suppress(OSError, ValueError):
        stream.close()


def _drain(stream: IO[str] | None, keep: list[str]) -> None:
    if stream is None:
        return
    size = 0
    for chunk in stream:
        keep.append(chunk)
        size += len(chunk)
        while size > STDERR_KEEP and len(keep) > 1:
            size -= len(keep.pop(0))
