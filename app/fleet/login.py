"""The fleet's login, beside the credential code: store it, tell the fleet, verify it, show it.

The auth manager (``python -m app.claude_auth_manager``, ``claude-workers auth``) is the command
layer over these; nothing here prints or reads a terminal.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from redis import Redis

from app.claude.credentials import (
    CLAUDE_LOGIN_FILE,
    CREDENTIAL_ENV_VARS,
    STORED_CREDENTIAL_FILE,
    CredentialKind,
    fingerprint,
    inspect_credentials,
    remove_stored_credential,
    store_credential,
)
from app.claude.outcome import exit_code, outcome
from app.claude.request import Engine, RunRequest
from app.claude.runner import run_claude
from app.errors import ClaudeError, ConfigError, FleetBlockingError, NoFleet
from app.fleet import shared_login
from app.fleet.gate import Gate
from app.redis_conn import connect, ping, redact_url
from app.settings import Settings
from app.states import State

TEST_PROMPT = "Reply with exactly: OK"


def redis_or_none(settings: Settings) -> Redis | None:
    """The fleet's Redis when there is a fleet and it answers: the login itself never needs one."""
    try:
        conn = connect(settings, socket_timeout=2, connect_timeout=1)
    except NoFleet:
        return None
    return conn if ping(conn) else None


def fleet_address(settings: Settings) -> str:
    try:
        return redact_url(settings.effective_redis_url)
    except NoFleet:
        return "none (REDIS_URL is not set and no local fleet is running)"


def tell_fleet(settings: Settings) -> bool:
    conn = redis_or_none(settings)
    if conn is None:
        return False
    Gate.of(conn, settings).credentials_changed()
    return True


def run_test(settings: Settings, engine: Engine = "cli") -> tuple[dict[str, Any], int]:
    """One tiny real request. Its outcome also informs the fleet gate, as a probe would."""
    request = RunRequest(prompt=TEST_PROMPT, engine=engine, timeout=min(settings.claude_job_timeout, 120))
    started = time.monotonic()
    attempt_started = time.time()
    try:
        result = run_claude(request, settings)
        payload = outcome(result=result)
    except ClaudeError as error:
        payload = outcome(error=error)
        result = None
        conn = redis_or_none(settings)
        if conn is not None and isinstance(error, FleetBlockingError):
            Gate.of(conn, settings).report_failure(error, attempt_started_at=attempt_started, probe=True)
    else:
        conn = redis_or_none(settings)
        if conn is not None:
            Gate.of(conn, settings).report_success(attempt_started_at=attempt_started, probe=True)
    payload["latency_ms"] = int((time.monotonic() - started) * 1000)
    payload["fleet_informed"] = conn is not None
    return payload, exit_code(payload["state"])


def setup_credential(
    settings: Settings, kind: CredentialKind | None, secret: str | None, *, verify: bool = True
) -> tuple[dict[str, Any], int]:
    """Store ``secret`` as the fleet's credential (None: a `claude auth login` already wrote its own),
    tell the fleet, and verify with one tiny request. A credential Claude rejects is not kept: the
    one before it is put back. Returns the result object and the exit code."""
    shared_login.cipher(settings)  # a malformed CLAUDE_WORKERS_SECRET_KEY stops us before anything changes
    stored_path = settings.config_dir / STORED_CREDENTIAL_FILE
    previous = stored_path.read_bytes() if stored_path.exists() else None
    if kind is not None and secret is not None:
        path = store_credential(settings.config_dir, kind, secret)
        stored = {"kind": kind.value, "path": str(path), "fingerprint": fingerprint(secret), "mode": "0o600"}
    else:
        stored = {"kind": CredentialKind.CLAUDE_AI_LOGIN.value, "path": str(settings.config_dir / CLAUDE_LOGIN_FILE)}
    result: dict[str, Any] = {"stored": stored, "fleet_informed": tell_fleet(settings), "verified": None}
    code = 0
    rejected = False
    if verify:
        test, code = run_test(settings)
        result["verified"] = test["state"] == State.READY
        result["test"] = test
        rejected = test["state"] == State.AUTH_REQUIRED
        if rejected and kind is not None:
            restore(stored_path, previous)
            result["restored_previous"] = previous is not None
    result["shared"] = None if rejected else share(settings)
    return result, code


def adopt_login_file(settings: Settings, source: Path) -> None:
    """Make a ``.credentials.json`` from ``claude auth login`` (run elsewhere) the fleet's login."""
    try:
        login = json.loads(source.read_text())
        oauth = login["claudeAiOauth"]
        usable = bool(oauth.get("accessToken") and oauth.get("refreshToken"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        usable = False
    if not usable:
        raise ConfigError(
            f"{source} is not a claude.ai login (a .credentials.json with an access and a refresh token).",
            hint="Run `claude auth login` and give the file it writes, or use setup's menu.",
        )
    shared_login.cipher(settings)  # a malformed key stops us before anything changes
    shared_login.write_login(settings.config_dir, login)
    remove_stored_credential(settings.config_dir)  # it would take precedence over the login


def share(settings: Settings) -> dict[str, Any] | None:
    """Hand this host's login to the other hosts through Redis (with CLAUDE_WORKERS_SECRET_KEY); None if not."""
    conn = redis_or_none(settings)
    if conn is None or shared_login.cipher(settings) is None:
        return None
    record = shared_login.publish(conn, settings)
    return record.to_dict() if record else None


def logout(settings: Settings) -> dict[str, Any]:
    """Remove the fleet's login here, and (with the key) on every host."""
    shared_login.cipher(settings)  # a malformed CLAUDE_WORKERS_SECRET_KEY stops us before anything changes
    removed = remove_stored_credential(settings.config_dir)
    login = settings.config_dir / CLAUDE_LOGIN_FILE
    if login.exists():
        login.unlink()
        removed = True
    return {"removed": removed, "fleet_informed": tell_fleet(settings), "shared": share(settings)}


def restore(path: Path, previous: bytes | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".restore")
    tmp.write_bytes(previous)
    tmp.chmod(0o600)
    tmp.replace(path)


SETTING_VARS = (
    "REDIS_URL",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_AUTH_MODE",
    "CLAUDE_BIN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CLI_MAX_RETRIES",
    "CLAUDE_JOB_TIMEOUT",
    "CLAUDE_WORKERS_PREFIX",
)


def config_view(settings: Settings) -> dict[str, Any]:
    report = inspect_credentials(settings)
    env: dict[str, str] = {}
    for name in sorted(CREDENTIAL_ENV_VARS):
        value = os.environ.get(name)
        env[name] = f"set ({fingerprint(value)})" if value else "unset"
    for name in SETTING_VARS:
        value = os.environ.get(name)
        env[name] = (redact_url(value) if name == "REDIS_URL" else value) if value else "unset"
    try:
        claude_bin: str | None = settings.resolve_claude_bin()
    except ConfigError:
        claude_bin = None
    files = []
    directory = settings.config_dir
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            st = path.lstat()
            files.append(
                {
                    "name": path.name + ("/" if path.is_dir() else ""),
                    "mode": oct(st.st_mode & 0o777),
                    "size": st.st_size,
                    "secret": path.name in (STORED_CREDENTIAL_FILE, CLAUDE_LOGIN_FILE),
                }
            )
    return {
        "paths": {
            "config_dir": str(directory),
            "claude_bin": claude_bin,
            "workspace_root": str(settings.workspace_root),
            "redis_url": fleet_address(settings),
        },
        "files": files,
        "env": env,
        "credential": report.credential.describe() if report.credential else None,
        "ignored": report.ignored,
        "problems": report.problems,
    }
