"""The fleet's login, shared through Redis: how workers on other hosts get it without a shared volume.

With ``CLAUDE_WORKERS_SECRET_KEY`` set (a Fernet key, the same on every host), ``setup`` on any host
also stores the credential in Redis, encrypted, under one versioned record. Every worker polls the
record's version (one small read a second) and, when it changes, writes the credential 0600 into
its own ``CLAUDE_CONFIG_DIR``, where the CLI and the credential proxy read it; the worker's
credential watch then reopens the gate at once. A logout is a new version with no credential: every
host removes its copy.

Without the key nothing is written to Redis, ever: a single host shares its config dir as the guide
says. A worker that finds an encrypted record it cannot read says which setting is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from redis import Redis

from app.claude.credentials import (
    CLAUDE_LOGIN_FILE,
    CredentialKind,
    fingerprint,
    inspect_credentials,
    remove_stored_credential,
    store_credential,
)
from app.errors import ConfigError
from app.fleet.keys import Keys
from app.settings import Settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

log = logging.getLogger("app.shared_login")

NEW_KEY_COMMAND = "python -m app.claude_auth_manager new-key"
KEY_HINT = (
    f"Make one with: {NEW_KEY_COMMAND}\n"
    "and give every host the same value (an environment variable or a mounted Kubernetes Secret). "
    "To rotate, put the new key first: CLAUDE_WORKERS_SECRET_KEY=NEW,OLD."
)

#: one write: a new version with its encrypted payload (or none: a logout). A refresher passes its
#: fencing token (ARGV[6]); one older than the last published is refused (-1), never written
_PUBLISH = """
if ARGV[6] ~= '' then
  local last = tonumber(redis.call('hget', KEYS[1], 'fence') or '0')
  if last > tonumber(ARGV[6]) then return -1 end
  redis.call('hset', KEYS[1], 'fence', ARGV[6])
end
local version = redis.call('hincrby', KEYS[1], 'version', 1)
redis.call('hset', KEYS[1], 'blob', ARGV[1], 'kind', ARGV[2], 'fingerprint', ARGV[3],
           'updated_at', ARGV[4], 'by', ARGV[5])
return version
"""


def cipher(settings: Settings) -> MultiFernet | None:
    """The fleet's cipher from CLAUDE_WORKERS_SECRET_KEY (comma-separated: the first encrypts); None if unset."""
    if settings.claude_workers_secret_key is None:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    keys = [k.strip() for k in settings.claude_workers_secret_key.get_secret_value().split(",") if k.strip()]
    if not keys:
        raise ConfigError("CLAUDE_WORKERS_SECRET_KEY is empty.", hint=KEY_HINT)
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError):
        raise ConfigError(
            "CLAUDE_WORKERS_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes).", hint=KEY_HINT
        ) from None


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class SharedRecord:
    version: int
    kind: str  # "" after a logout
    fingerprint: str
    updated_at: float
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind or None,
            "fingerprint": self.fingerprint or None,
            "updated_at": self.updated_at,
            "by": self.by,
        }


def _local_login(settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """What this host's config dir holds now, as (kind, payload to share); None when it holds nothing usable."""
    credential = inspect_credentials(settings).credential
    if credential is None or not credential.source.startswith("file:"):
        return None  # an environment variable is this host's own business, not the fleet's
    if credential.kind is CredentialKind.CLAUDE_AI_LOGIN:
        return credential.kind.value, {"login": json.loads((settings.config_dir / CLAUDE_LOGIN_FILE).read_text())}
    assert credential.secret is not None
    return credential.kind.value, {"secret": credential.secret.get_secret_value()}


def publish(conn: Redis, settings: Settings, *, fence: int | None = None) -> SharedRecord | None:
    """Share what this host's config dir holds (or its absence: a logout).

    None without a key (nothing written), or when ``fence`` is older than the last refresh published.
    """
    box = cipher(settings)
    if box is None:
        return None
    local = _local_login(settings)
    kind, payload = local if local is not None else ("", {})
    blob = box.encrypt(json.dumps(payload).encode()).decode() if local is not None else ""
    secret = payload.get("secret") or json.dumps(payload.get("login", ""), sort_keys=True)
    shown = fingerprint(secret) if local is not None else ""
    now, by = time.time(), socket.gethostname()
    key = Keys(settings.claude_workers_prefix).credential
    version = int(conn.eval(_PUBLISH, 1, key, blob, kind, shown, now, by, "" if fence is None else fence))
    if version < 0:
        log.warning("credentials: a newer refresh was published first; this one (fence %s) is dropped", fence)
        return None
    return SharedRecord(version, kind, shown, now, by)


def read(conn: Redis, settings: Settings) -> SharedRecord | None:
    raw = conn.hgetall(Keys(settings.claude_workers_prefix).credential)
    if not raw:
        return None
    values = {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]
    return SharedRecord(
        int(values.get("version", 0)),
        values.get("kind", ""),
        values.get("fingerprint", ""),
        float(values.get("updated_at") or 0),
        values.get("by", ""),
    )


def describe(conn: Redis | None, settings: Settings) -> dict[str, Any]:
    """How the login reaches other hosts, for ``auth status`` and ``/auth`` (no secret in it)."""
    record = None
    if conn is not None:
        with contextlib.suppress(redis.RedisError, OSError):
            record = read(conn, settings)
    return {
        "through_redis": settings.claude_workers_secret_key is not None,
        "record": record.to_dict() if record else None,
    }


def write_login(config_dir: Path, login: dict[str, Any]) -> None:
    """``.credentials.json`` as the CLI writes it: a temporary file, 0600, then an atomic rename."""
    config_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials.json.", dir=config_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(login, out)
        os.replace(tmp, config_dir / CLAUDE_LOGIN_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def apply(conn: Redis, settings: Settings) -> int | None:
    """Write the shared credential into this host's config dir; returns the version applied (None: none)."""
    box = cipher(settings)
    key = Keys(settings.claude_workers_prefix).credential
    raw: list[bytes | None] = conn.hmget(key, "version", "blob", "kind")  # type: ignore[assignment]
    if raw[0] is None:
        return None
    version, blob, kind = int(raw[0]), (raw[1] or b"").decode(), (raw[2] or b"").decode()
    config_dir = settings.config_dir
    if not blob:  # a logout on some host
        if box is None:
            return version  # not a member of the shared login: a record from when it was shared is not ours
        remove_stored_credential(config_dir)
        (config_dir / CLAUDE_LOGIN_FILE).unlink(missing_ok=True)
        return version
    if box is None:
        raise ConfigError(
            "The fleet's Claude credential is in Redis, encrypted, and this worker has no CLAUDE_WORKERS_SECRET_KEY.",
            hint="Give it the same CLAUDE_WORKERS_SECRET_KEY as the host where `setup` ran.",
        )
    from cryptography.fernet import InvalidToken

    try:
        payload = json.loads(box.decrypt(blob.encode()))
    except InvalidToken:
        raise ConfigError(
            "The fleet's Claude credential in Redis does not decrypt with this worker's CLAUDE_WORKERS_SECRET_KEY.",
            hint="Give every host the same key (during a rotation: NEW,OLD), then restart this worker.",
        ) from None
    if kind == CredentialKind.CLAUDE_AI_LOGIN.value:
        write_login(config_dir, payload["login"])
        remove_stored_credential(config_dir)  # the stored one would take precedence over the login
    else:
        store_credential(config_dir, CredentialKind(kind), payload["secret"])
    return version


class CredentialSync:
    """A worker's thread that keeps its config dir in step with the fleet's shared credential."""

    def __init__(self, conn: Redis, settings: Settings, interval: float = 1.0) -> None:
        self.conn = conn
        self.settings = settings
        self.interval = interval
        self.applied: int | None = None
        self._complained: int | None = None
        self._stop = threading.Event()
        self._also: list[Callable[[], object]] = []

    def also(self, chore: Callable[[], object]) -> None:
        """Run ``chore`` after each look (the login refresher rides on this thread)."""
        self._also.append(chore)

    def step(self) -> None:
        version = self.conn.hget(Keys(self.settings.claude_workers_prefix).credential, "version")
        if version is None or int(version) == self.applied:
            return
        try:
            self.applied = apply(self.conn, self.settings)
        except ConfigError as problem:
            if self._complained != int(version):
                log.error("credentials: %s %s", problem.message, problem.hint)
                self._complained = int(version)
            return
        log.info("credentials: the fleet's shared credential (version %s) is in this worker's config dir", version)

    def run(self) -> None:
        while not self._stop.is_set():
            for chore in (self.step, *self._also):
                try:
                    chore()
                except (redis.RedisError, OSError) as exc:
                    log.debug("credentials: %s failed this time (%s)", getattr(chore, "__name__", chore), exc)
                except Exception as exc:  # a dead thread would leave this host on an expiring login for good
                    log.warning(
                        "credentials: %s failed (%s); the next look tries again",
                        getattr(chore, "__qualname__", chore),
                        type(exc).__name__,
                    )
            self._stop.wait(self.interval)

    def start(self) -> None:
        threading.Thread(target=self.run, name="credential-sync", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
