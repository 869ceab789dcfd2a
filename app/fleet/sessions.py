"""Which client a Claude session belongs to, so that a client resumes only its own sessions.

A session's transcript holds its prompts and whatever its tools read. Session ids are random
UUIDs and a client sees only its own jobs, but an id can still travel (a log line, a shared
result): the owner recorded here, when the CLI announces the session, makes knowing an id not
enough. Sessions of the operator's jobs belong to no client, so no client can resume them; the
operator may resume any.
"""

from __future__ import annotations

from redis import Redis

from app.fleet.keys import Keys

#: an owner outlives the kept transcript it guards (CLAUDE_SESSION_RETENTION), and at least a day
MIN_KEEP_S = 86400


def own(conn: Redis, keys: Keys, session_id: str, client: str | None, keep_s: int) -> None:
    """Record ``client`` (None: the operator) as the owner of ``session_id``; the first owner stays."""
    conn.set(keys.session_owner(session_id), client or "", ex=max(keep_s, MIN_KEEP_S), nx=True)


def may_resume(conn: Redis, keys: Keys, session_id: str, client: str | None) -> bool:
    """Whether ``client`` may resume ``session_id``: the operator may resume any, a client its own."""
    if client is None:
        return True
    owner = conn.get(keys.session_owner(session_id))
    return isinstance(owner, bytes) and owner.decode() == client
