"""One refresh of a claude.ai login for the whole fleet, across hosts whose config dirs are their own.

The fake's token endpoint rotates refresh tokens (a used one answers ``invalid_grant``) and refuses
expired access tokens. Three workers with three config dirs stand for three hosts.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fleet_harness import Fleet, free_port, running_fleet, wait_until
from tests.integration.test_shared_login import auth_manager, authenticated

pytestmark = pytest.mark.integration

LIFETIME = 9.0  # seconds an access token lives
MARGIN = 3.0  # refresh this long before it expires
RUN_FOR = 22.0


@pytest.mark.story  # 25 s of tokens expiring under running jobs
@pytest.mark.timeout(180)
def test_three_hosts_refresh_once_per_expiry_and_no_job_sees_an_auth_error(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.oauth.expires_in = LIFETIME
    fake_api.oauth.strict = True
    login = tmp_path / "credentials-from-claude-auth-login.json"
    login.write_text(json.dumps(fake_api.oauth.login_file()))
    env = {
        "ANTHROPIC_BASE_URL": fake_api.url,
        "CLAUDE_WORKERS_SECRET_KEY": Fernet.generate_key().decode(),
        "CLAUDE_OAUTH_TOKEN_URL": f"{fake_api.url}/v1/oauth/token",
        "CLAUDE_OAUTH_REFRESH_MARGIN": str(MARGIN),
        "CLAUDE_WORKERS_CREDENTIAL_POLL": "0.5",
        "CLAUDE_GATE_POLL_INTERVAL": "0.2",
    }
    hosts = [tmp_path / f"host-{name}" / "config" for name in "abc"]
    ports = [free_port() for _ in hosts]
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        for config, port in zip(hosts, ports, strict=True):
            config.mkdir(parents=True)
            fleet.start_worker(CLAUDE_CONFIG_DIR=str(config), HEALTH_PORT=str(port))
        out = auth_manager(fleet, hosts[0], "setup", "--login-file", str(login))
        assert "Verified" in out and "Shared with every host" in out, out
        wait_until(lambda: all(authenticated(p) for p in ports), 5, interval=0.1, what="every host logged in")

        started = time.time()
        ids: list[str] = []
        while time.time() - started < RUN_FOR:  # jobs keep coming while tokens expire underneath them
            ids += fleet.enqueue(3)  # a job that failed is reported below with its attempts, not waited on
            want = len(ids)
            wait_until(
                lambda want=want: fleet.finished() + fleet.failed() >= want,
                60,
                interval=0.2,
                what=lambda ids=ids: _jobs_so_far(fleet, ids),
            )
        elapsed = time.time() - started
        # the newest pair reaches every host within a look or two of CLAUDE_WORKERS_CREDENTIAL_POLL:
        # a refresh in the last moments of the run may not have reached all three yet
        wait_until(
            lambda: len(set(final := _refresh_tokens(hosts))) == 1 and final[0] in fake_api.oauth.live_refresh,
            5,
            interval=0.1,
            what=lambda: f"every host to hold the newest refresh token: {_refresh_tokens(hosts)}",
        )
        logs = fleet.log_text()

    issuer = fake_api.oauth
    assert issuer.invalid_grants == 0, "a host presented a refresh token another had used"
    # one refresh per token lifetime, for the whole fleet: not one per host
    most = math.ceil((elapsed + LIFETIME) / (LIFETIME - MARGIN - 1))
    assert 3 <= issuer.refreshes <= most, (issuer.refreshes, most)
    assert logs.count("login refreshed for the fleet") == issuer.refreshes
    outcomes = [a["outcome"] for i in ids for a in fleet.job(i).meta["attempts"]]
    assert set(outcomes) == {"ok"}, [o for o in outcomes if o != "ok"]


def _refresh_tokens(hosts: list[Path]) -> list[str | None]:
    """Each host's refresh token (None while its file is being replaced)."""
    found: list[str | None] = []
    for config in hosts:
        try:
            found.append(json.loads((config / ".credentials.json").read_text())["claudeAiOauth"]["refreshToken"])
        except (OSError, ValueError, KeyError):
            found.append(None)
    return found


def _jobs_so_far(fleet: Fleet, ids: list[str]) -> str:
    """What each unfinished job is doing, for the failure message."""
    rows = []
    for job_id in ids:
        job = fleet.job(job_id)
        if job.get_status() != "finished":
            rows.append(f"{job_id} {job.get_status()} {job.meta.get('attempts')}")
    return "the jobs so far; unfinished: " + "; ".join(rows)
