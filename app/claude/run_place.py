"""Where one CLI run lives: its own config dir, its credential proxy, and its sandbox (if any).

The CLI never gets the fleet's config dir: each run has a fresh one (so no job sees another's
transcripts, and the fleet's login stays out of reach), and its credential arrives through the
proxy. The session transcript a run leaves is kept in the fleet's config dir under
``claude-workers-sessions/<session id>`` for ``CLAUDE_SESSION_RETENTION`` seconds, so a later
job can ``resume_session_id`` it on any worker; the run's own dir is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.claude import sandbox
from app.claude.credentials import CLAUDE_LOGIN_FILE, Credential
from app.claude.proxy import CredentialProxy
from app.errors import AuthRequired, ConfigError
from app.settings import Settings

SESSIONS_DIR = "claude-workers-sessions"
#: sessions kept at most, whatever their age (the oldest go first)
MAX_SESSIONS = 1000


@dataclass
class RunPlace:
    config_dir: Path
    proxy: CredentialProxy  # on a Unix socket (``socket_path``) when the run is sandboxed


def use_sandbox(settings: Settings) -> bool:
    """Whether runs are sandboxed, per CLAUDE_SANDBOX (``bwrap`` fails loudly when it cannot)."""
    if settings.claude_sandbox == "off":
        return False
    problem = sandbox.bwrap_problem()
    if problem is None:
        return True
    if settings.claude_sandbox == "bwrap":
        raise ConfigError(
            f"CLAUDE_SANDBOX=bwrap, but {problem}.",
            hint="Install bubblewrap (apt-get install bubblewrap) and allow user namespaces, "
            "or set CLAUDE_SANDBOX=auto to run without a sandbox.",
        )
    return False


def secret_of(settings: Settings, credential: Credential) -> str:
    """The real secret now (a claude.ai login's access token is read afresh from its file)."""
    if credential.secret is not None:
        return credential.secret.get_secret_value()
    try:
        data = json.loads((settings.config_dir / CLAUDE_LOGIN_FILE).read_text())
        token = str(data["claudeAiOauth"]["accessToken"])
    except (OSError, ValueError, KeyError, TypeError):
        token = ""
    if not token:
        raise AuthRequired(f"The `claude auth login` session in {settings.config_dir} holds no access token.")
    return token


@contextlib.contextmanager
def run_place(
    settings: Settings, credential: Credential, resume_session_id: str | None, state_dir: Path | None = None
) -> Iterator[RunPlace]:
    """``state_dir``: a queued job's own, on the shared volume, kept between its attempts (the caller
    removes it when the job ends); without it the run's config dir is temporary."""
    sandboxed = use_sandbox(settings)
    root = Path(tempfile.mkdtemp(prefix="claude-run-"))
    root.chmod(0o700)
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_dir = (state_dir or root) / "config"
    config_dir.mkdir(exist_ok=True)
    if resume_session_id and not _transcript(config_dir, resume_session_id):
        _restore_session(settings, resume_session_id, config_dir)
    proxy = CredentialProxy(
        credential,
        lambda: secret_of(settings, credential),
        settings.anthropic_base_url,
        socket_path=root / "proxy.sock" if sandboxed else None,
        timeout_s=(settings.claude_api_timeout_ms or 600_000) / 1000,
    )
    try:
        with proxy:
            yield RunPlace(config_dir, proxy)
    finally:
        with contextlib.suppress(OSError):
            _keep_sessions(settings, config_dir)
        shutil.rmtree(root, ignore_errors=True)


def _sessions(settings: Settings) -> Path:
    return settings.config_dir / SESSIONS_DIR


def _transcript(config_dir: Path, session_id: str) -> Path | None:
    found = next((config_dir / "projects").glob(f"*/{session_id}.jsonl"), None)
    return found


def session_kept(settings: Settings, session_id: str, state_dir: Path | None = None) -> bool:
    """Whether ``session_id`` can be resumed here: in the job's own state dir, or in the fleet's store."""
    if state_dir is not None and _transcript(state_dir / "config", session_id):
        return True
    return (_sessions(settings) / session_id / "projects").is_dir()


def _keep_sessions(settings: Settings, config_dir: Path) -> None:
    projects = config_dir / "projects"
    if not projects.is_dir():
        return
    for transcript in projects.glob("*/*.jsonl"):
        target = _sessions(settings) / transcript.stem / "projects" / transcript.parent.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(transcript, target / transcript.name)
    prune_sessions(settings)


def _restore_session(settings: Settings, session_id: str, config_dir: Path) -> None:
    kept = _sessions(settings) / session_id / "projects"
    if kept.is_dir():
        shutil.copytree(kept, config_dir / "projects", dirs_exist_ok=True)


def prune_sessions(settings: Settings, now: float | None = None) -> int:
    """Drop kept sessions older than CLAUDE_SESSION_RETENTION, and the oldest past MAX_SESSIONS."""
    base = _sessions(settings)
    if not base.is_dir():
        return 0
    now = now or time.time()
    entries = sorted(base.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = 0
    for index, entry in enumerate(entries):
        if index >= MAX_SESSIONS or now - entry.stat().st_mtime > settings.claude_session_retention:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
