"""One refresh for the whole fleet: a ``claude auth login`` session renewed by exactly one worker.

A claude.ai login is an access token that expires and a refresh token that *rotates*: each refresh
token works once. The CLI's own lock only covers one config dir, so two hosts holding copies of one
login would both refresh, and the second would present a used refresh token and log the fleet out.

Here the CLI never refreshes (it holds only its job's proxy token). The workers do, through Redis:
when the access token is within ``CLAUDE_OAUTH_REFRESH_MARGIN`` of its expiry, a worker takes the
fleet's refresh lock, draws a fencing token, re-reads the freshest login (another worker may have
refreshed meanwhile), refreshes once, writes the new pair 0600 and, with ``CLAUDE_WORKERS_SECRET_KEY``,
publishes it to every host under its fencing token. A refresher whose lock expired mid-call cannot
overwrite a newer pair: its fence is older. Workers on one host without the key share the file itself.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import httpx
from redis import Redis

from app.claude.credentials import CLAUDE_LOGIN_FILE
from app.fleet import shared_login
from app.fleet.keys import Keys
from app.settings import Settings

log = logging.getLogger("app.login_refresh")

LOCK_TTL_MS = 30_000
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _oauth(settings: Settings) -> dict[str, Any] | None:
    try:
        login = json.loads((settings.config_dir / CLAUDE_LOGIN_FILE).read_text())
    except (OSError, ValueError):
        return None
    oauth = login.get("claudeAiOauth") if isinstance(login, dict) else None
    return oauth if isinstance(oauth, dict) and oauth.get("refreshToken") else None


def due(settings: Settings, now: float | None = None) -> bool:
    """Whether this host's login is a refreshable session within the margin of its expiry."""
    oauth = _oauth(settings)
    if oauth is None or not isinstance(oauth.get("expiresAt"), int | float):
        return False
    expires_at = float(oauth["expiresAt"]) / 1000
    return (now or time.time()) >= expires_at - settings.claude_oauth_refresh_margin


class LoginRefresher:
    def __init__(self, conn: Redis, settings: Settings, sync: shared_login.CredentialSync | None = None) -> None:
        self.conn = conn
        self.settings = settings
        self.sync = sync
        self.keys = Keys(settings.claude_workers_prefix)

    def step(self) -> bool:
        """Refresh if due and nobody else is; True when this worker refreshed."""
        if not due(self.settings):
            return False
        holder = secrets.token_hex(8)
        if not self.conn.set(self.keys.oauth_refresh_lock, holder, nx=True, px=LOCK_TTL_MS):
            return False  # another worker is refreshing; its pair reaches us by file or by Redis
        try:
            fence = int(self.conn.incr(self.keys.oauth_refresh_fence))
            if self.sync is not None:
                self.sync.step()  # the freshest pair first: someone may have refreshed since we looked
            if not due(self.settings):
                return False
            return self._refresh(fence)
        finally:
            self.conn.eval(_RELEASE, 1, self.keys.oauth_refresh_lock, holder)

    def _refresh(self, fence: int) -> bool:
        path = self.settings.config_dir / CLAUDE_LOGIN_FILE
        login = json.loads(path.read_text())
        oauth = login["claudeAiOauth"]
        body = {
            "grant_type": "refresh_token",
            "refresh_token": oauth["refreshToken"],
            "client_id": self.settings.claude_oauth_client_id,
            "scope": " ".join(oauth.get("scopes") or []),
        }
        try:
            answer = httpx.post(self.settings.claude_oauth_token_url, json=body, timeout=30)
        except httpx.HTTPError as exc:
            log.warning("login refresh: the token endpoint did not answer (%s); the next look tries again", exc)
            return False
        if answer.status_code != 200:
            error = answer.json().get("error", answer.status_code) if _is_json(answer) else answer.status_code
            log.error(
                "login refresh refused (%s): the login cannot be renewed; jobs will wait for a new one: "
                "python -m app.claude_auth_manager setup",
                error,
            )
            return False
        pair = answer.json()
        oauth.update(
            accessToken=pair["access_token"],
            refreshToken=pair.get("refresh_token", oauth["refreshToken"]),
            expiresAt=int((time.time() + float(pair.get("expires_in", 3600))) * 1000),
        )
        shared_login.write_login(self.settings.config_dir, login)
        published = shared_login.publish(self.conn, self.settings, fence=fence)
        log.info(
            "login refreshed for the fleet (fence %d)%s",
            fence,
            f"; shared as version {published.version}" if published else "",
        )
        return True


def _is_json(answer: httpx.Response) -> bool:
    return str(answer.headers.get("content-type", "")).startswith("application/json")
