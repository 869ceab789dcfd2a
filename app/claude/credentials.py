"""Which Claude credential a run uses, and what is on disk: passive, never calls Claude.

Precedence (``CLAUDE_AUTH_MODE=auto``, the default), first match wins:

1. the credential stored by the auth manager (``claude-workers-credential.json`` in the
   config dir): the operator's most recent, explicit choice for the whole fleet;
2. ``CLAUDE_CODE_OAUTH_TOKEN`` in the worker's environment (a ``claude setup-token`` token);
3. a ``claude auth login`` session (``.credentials.json`` in the config dir);
4. ``ANTHROPIC_AUTH_TOKEN`` in the environment (a bearer token for a gateway);
5. ``ANTHROPIC_API_KEY`` in the environment.

An API key only wins when no subscription credential exists, so a key left over in the
environment never silently moves subscription work onto API billing; it is reported as
ignored instead. ``CLAUDE_AUTH_MODE=subscription`` or ``api_key`` restricts the choice to
that family. Exactly one credential reaches the CLI (see ``environment.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.errors import ConfigError
from app.settings import Settings

STORED_CREDENTIAL_FILE = "claude-workers-credential.json"
CLAUDE_LOGIN_FILE = ".credentials.json"
CLAUDE_STATE_FILE = ".claude.json"


class CredentialKind(StrEnum):
    API_KEY = "api_key"
    OAUTH_TOKEN = "oauth_token"  # claude setup-token; sent as CLAUDE_CODE_OAUTH_TOKEN
    AUTH_TOKEN = "auth_token"  # gateway bearer; sent as ANTHROPIC_AUTH_TOKEN
    CLAUDE_AI_LOGIN = "claude_ai_login"  # .credentials.json, read by the CLI itself

    @property
    def is_subscription(self) -> bool:
        return self in (CredentialKind.OAUTH_TOKEN, CredentialKind.CLAUDE_AI_LOGIN)


_ENV_VAR_OF = {
    CredentialKind.API_KEY: "ANTHROPIC_API_KEY",
    CredentialKind.OAUTH_TOKEN: "CLAUDE_CODE_OAUTH_TOKEN",
    CredentialKind.AUTH_TOKEN: "ANTHROPIC_AUTH_TOKEN",
}

#: every variable through which a credential can reach the CLI; scrubbed from child envs
CREDENTIAL_ENV_VARS = frozenset(
    {
        *_ENV_VAR_OF.values(),
        "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
        "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
        "CLAUDE_CODE_OAUTH_REFRESH_TOKEN",
    }
)


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag that tells two secrets apart without showing either."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Credential:
    kind: CredentialKind
    source: str  # "env:NAME" or "file:NAME"
    secret: SecretStr | None = None  # None for a claude.ai login: the CLI reads its own file

    @property
    def env_var(self) -> str:
        """The variable through which a credential of this kind reaches the CLI (a claude.ai
        login's access token goes as an OAuth token). It carries the proxy's job token, never this."""
        return _ENV_VAR_OF.get(self.kind, "CLAUDE_CODE_OAUTH_TOKEN")

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.kind.value,
            "source": self.source,
            "subscription": self.kind.is_subscription,
            "fingerprint": fingerprint(self.secret.get_secret_value()) if self.secret else None,
        }


@dataclass
class FileInfo:
    name: str
    exists: bool
    mode: str | None = None
    size: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "exists": self.exists, "mode": self.mode, "size": self.size, "problem": self.problem}


@dataclass
class AuthReport:
    """What is configured, where from, and what was set aside. Holds no secret values."""

    config_dir: Path
    mode: str
    credential: Credential | None
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    login_expires_at: float | None = None

    @property
    def configured(self) -> bool:
        return self.credential is not None

    @property
    def login_expired(self) -> bool:
        return self.login_expires_at is not None and self.login_expires_at < time.time()

    def to_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "mode": self.mode,
            "credential": self.credential.describe() if self.credential else None,
            "config_dir": str(self.config_dir),
            "files": [f.to_dict() for f in self.files],
            "login_expires_at": self.login_expires_at,
            "login_expired": self.login_expired,
            "ignored": self.ignored,
            "problems": self.problems,
        }


def _file_info(path: Path) -> FileInfo:
    try:
        st = path.stat()
    except FileNotFoundError:
        return FileInfo(path.name, exists=False)
    except OSError as exc:
        return FileInfo(path.name, exists=False, problem=f"cannot read: {exc.strerror}")
    mode = stat.S_IMODE(st.st_mode)
    problem = None
    if mode & 0o077 and path.name in (STORED_CREDENTIAL_FILE, CLAUDE_LOGIN_FILE):
        problem = f"permissions {oct(mode)} let other users read a secret; run: chmod 600 {path}"
    return FileInfo(path.name, exists=True, mode=oct(mode), size=st.st_size, problem=problem)


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        problems.append(f"{path.name} cannot be read ({exc.strerror}).")
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        problems.append(
            f"{path.name} is not valid JSON (corrupt or truncated); it is ignored. Log in again to replace it."
        )
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} does not hold a JSON object; it is ignored.")
        return None
    return data


def _stored_credential(config_dir: Path, problems: list[str]) -> Credential | None:
    data = _read_json(config_dir / STORED_CREDENTIAL_FILE, problems)
    if data is None:
        return None
    try:
        kind = CredentialKind(str(data.get("kind")))
        secret = str(data["secret"])
    except (ValueError, KeyError):
        problems.append(f"{STORED_CREDENTIAL_FILE} lacks a valid kind and secret; it is ignored.")
        return None
    if kind not in _ENV_VAR_OF or not secret.strip():
        problems.append(f"{STORED_CREDENTIAL_FILE} holds no usable secret; it is ignored.")
        return None
    return Credential(kind, f"file:{STORED_CREDENTIAL_FILE}", SecretStr(secret.strip()))


def _claude_login(config_dir: Path, problems: list[str]) -> tuple[Credential | None, float | None]:
    data = _read_json(config_dir / CLAUDE_LOGIN_FILE, problems)
    if data is None:
        return None, None
    oauth = data.get("claudeAiOauth")
    if not isinstance(oauth, dict):
        return None, None
    expires_ms = oauth.get("expiresAt")
    expires_at = expires_ms / 1000 if isinstance(expires_ms, int | float) and expires_ms > 0 else None
    if not oauth.get("accessToken") and not oauth.get("refreshToken"):
        problems.append(
            f"{CLAUDE_LOGIN_FILE} holds an emptied login (the CLI wipes it when a refresh fails); log in again."
        )
        return None, expires_at
    return Credential(CredentialKind.CLAUDE_AI_LOGIN, f"file:{CLAUDE_LOGIN_FILE}"), expires_at


def inspect_credentials(settings: Settings) -> AuthReport:
    """Apply the precedence above. Reads files and settings only."""
    config_dir = settings.config_dir
    problems: list[str] = []
    stored = _stored_credential(config_dir, problems)
    login, expires_at = _claude_login(config_dir, problems)

    def env(kind: CredentialKind, value: SecretStr | None) -> Credential | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return Credential(kind, f"env:{_ENV_VAR_OF[kind]}", SecretStr(value.get_secret_value().strip()))

    ordered = [
        stored,
        env(CredentialKind.OAUTH_TOKEN, settings.claude_code_oauth_token),
        login,
        env(CredentialKind.AUTH_TOKEN, settings.anthropic_auth_token),
        env(CredentialKind.API_KEY, settings.anthropic_api_key),
    ]
    mode = settings.claude_auth_mode
    chosen: Credential | None = None
    ignored: list[str] = []
    for candidate in ordered:
        if candidate is None:
            continue
        if mode == "subscription" and not candidate.kind.is_subscription:
            ignored.append(f"{candidate.source} ({candidate.kind.value}): CLAUDE_AUTH_MODE=subscription")
        elif mode == "api_key" and candidate.kind.is_subscription:
            ignored.append(f"{candidate.source} ({candidate.kind.value}): CLAUDE_AUTH_MODE=api_key")
        elif chosen is None:
            chosen = candidate
        else:
            ignored.append(f"{candidate.source} ({candidate.kind.value}): {chosen.source} takes precedence")
    files = [_file_info(config_dir / n) for n in (STORED_CREDENTIAL_FILE, CLAUDE_LOGIN_FILE, CLAUDE_STATE_FILE)]
    problems.extend(f.problem for f in files if f.problem)
    return AuthReport(config_dir, mode, chosen, ignored, problems, files, expires_at if login else None)


def select_credential(settings: Settings) -> Credential | None:
    return inspect_credentials(settings).credential


def store_credential(config_dir: Path, kind: CredentialKind, secret: str) -> Path:
    """Write the fleet's credential atomically, mode 0600, replacing any earlier one."""
    if kind not in _ENV_VAR_OF:
        raise ConfigError(f"A {kind.value} cannot be stored; log in with `claude auth login` instead.")
    secret = secret.strip()
    if not secret:
        raise ConfigError("The secret is empty; nothing was stored.")
    try:
        config_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the config dir {config_dir}: {exc.strerror}.", hint="Check CLAUDE_CONFIG_DIR."
        ) from None
    target = config_dir / STORED_CREDENTIAL_FILE
    payload = json.dumps({"kind": kind.value, "secret": secret, "stored_at": time.time()})
    fd, tmp = tempfile.mkstemp(prefix=".claude-workers-credential.", dir=config_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def remove_stored_credential(config_dir: Path) -> bool:
    try:
        (config_dir / STORED_CREDENTIAL_FILE).unlink()
    except FileNotFoundError:
        return False
    return True
