import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.claude.credentials import (
    CLAUDE_LOGIN_FILE,
    STORED_CREDENTIAL_FILE,
    CredentialKind,
    inspect_credentials,
    store_credential,
)
from app.claude.environment import child_env
from app.settings import Settings
from tests.conftest import CANARY

MakeSettings = Callable[..., Settings]


def write_login(config_dir: Path, access: str = "at-123", expires_at_ms: int | None = None) -> None:
    body = {"claudeAiOauth": {"accessToken": access, "refreshToken": "rt-1", "expiresAt": expires_at_ms or 0}}
    (config_dir / CLAUDE_LOGIN_FILE).write_text(json.dumps(body))
    os.chmod(config_dir / CLAUDE_LOGIN_FILE, 0o600)


def test_nothing_configured(make_settings: MakeSettings) -> None:
    report = inspect_credentials(make_settings())
    assert report.credential is None
    assert not report.configured


def test_env_api_key_never_beats_a_subscription_login(make_settings: MakeSettings, isolated_env: Path) -> None:
    write_login(isolated_env)
    report = inspect_credentials(make_settings(anthropic_api_key=SecretStr("sk-ant-leftover")))
    assert report.credential is not None
    assert report.credential.kind is CredentialKind.CLAUDE_AI_LOGIN
    assert any("ANTHROPIC_API_KEY" in line for line in report.ignored)


def test_env_api_key_is_used_when_it_is_the_only_credential(make_settings: MakeSettings) -> None:
    report = inspect_credentials(make_settings(anthropic_api_key=SecretStr("sk-ant-only")))
    assert report.credential is not None
    assert report.credential.kind is CredentialKind.API_KEY
    assert report.credential.source == "env:ANTHROPIC_API_KEY"


def test_precedence_order(make_settings: MakeSettings, isolated_env: Path) -> None:
    settings = make_settings(
        claude_code_oauth_token=SecretStr("oat-env"),
        anthropic_api_key=SecretStr("key-env"),
        anthropic_auth_token=SecretStr("gw-env"),
    )
    write_login(isolated_env)
    assert inspect_credentials(settings).credential.source == "env:CLAUDE_CODE_OAUTH_TOKEN"  # type: ignore[union-attr]
    store_credential(isolated_env, CredentialKind.API_KEY, "key-stored")
    chosen = inspect_credentials(settings).credential
    assert chosen is not None and chosen.source == f"file:{STORED_CREDENTIAL_FILE}"
    assert chosen.kind is CredentialKind.API_KEY


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("subscription", CredentialKind.OAUTH_TOKEN), ("api_key", CredentialKind.API_KEY)],
)
def test_mode_restricts_the_family(make_settings: MakeSettings, mode: str, expected: CredentialKind) -> None:
    settings = make_settings(
        claude_auth_mode=mode,
        claude_code_oauth_token=SecretStr("oat"),
        anthropic_api_key=SecretStr("key"),
    )
    report = inspect_credentials(settings)
    assert report.credential is not None and report.credential.kind is expected
    assert any(f"CLAUDE_AUTH_MODE={mode}" in line for line in report.ignored)


def test_corrupt_login_file_is_reported_not_raised(make_settings: MakeSettings, isolated_env: Path) -> None:
    (isolated_env / CLAUDE_LOGIN_FILE).write_text('{"claudeAiOauth": {"accessTo')
    report = inspect_credentials(make_settings())
    assert report.credential is None
    assert any("not valid JSON" in p for p in report.problems)


def test_wiped_login_is_not_a_credential(make_settings: MakeSettings, isolated_env: Path) -> None:
    write_login(isolated_env, access="")
    data = json.loads((isolated_env / CLAUDE_LOGIN_FILE).read_text())
    data["claudeAiOauth"]["refreshToken"] = ""
    (isolated_env / CLAUDE_LOGIN_FILE).write_text(json.dumps(data))
    report = inspect_credentials(make_settings())
    assert report.credential is None
    assert any("emptied login" in p for p in report.problems)


def test_login_expiry_is_read_from_expires_at(make_settings: MakeSettings, isolated_env: Path) -> None:
    past_ms = int((time.time() - 60) * 1000)
    write_login(isolated_env, expires_at_ms=past_ms)
    report = inspect_credentials(make_settings())
    assert report.login_expires_at == pytest.approx(past_ms / 1000)
    assert report.login_expired


def test_stored_credential_is_0600_and_atomic(isolated_env: Path) -> None:
    path = store_credential(isolated_env, CredentialKind.OAUTH_TOKEN, f"  {CANARY}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["secret"] == CANARY
    assert [p.name for p in isolated_env.iterdir()] == [STORED_CREDENTIAL_FILE]


def test_world_readable_secret_file_is_flagged(make_settings: MakeSettings, isolated_env: Path) -> None:
    write_login(isolated_env)
    os.chmod(isolated_env / CLAUDE_LOGIN_FILE, 0o644)
    report = inspect_credentials(make_settings())
    assert any("chmod 600" in p for p in report.problems)


def test_report_never_contains_the_secret(make_settings: MakeSettings, isolated_env: Path) -> None:
    store_credential(isolated_env, CredentialKind.API_KEY, CANARY)
    settings = make_settings(claude_code_oauth_token=SecretStr(CANARY), anthropic_api_key=SecretStr(CANARY))
    report = inspect_credentials(settings)
    text = json.dumps(report.to_dict())
    assert CANARY not in text
    assert report.to_dict()["credential"]["fingerprint"].startswith("sha256:")


def test_child_env_carries_exactly_one_credential(make_settings: MakeSettings, isolated_env: Path) -> None:
    write_login(isolated_env)
    settings = make_settings(anthropic_base_url="http://127.0.0.1:9", claude_cli_max_retries=3)
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "ANTHROPIC_API_KEY": "leaked",
        "ANTHROPIC_AUTH_TOKEN": "leaked",
        "CLAUDE_CODE_OAUTH_TOKEN": "leaked",
        "ANTHROPIC_BASE_URL": "http://elsewhere",
        "AWS_SECRET_ACCESS_KEY": "unrelated-secret",
    }
    run_dir = isolated_env / "run"
    login = inspect_credentials(settings).credential
    assert login is not None
    client = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", login.env_var: "cwjob-token"}
    env = child_env(settings, parent, config_dir=run_dir, client=client)
    assert "leaked" not in env.values()
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert env["CLAUDE_CONFIG_DIR"] == str(run_dir)
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "3"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["TZ"] == "UTC"
    assert env["LC_ALL"] == "C.UTF-8"

    oauth = make_settings(claude_code_oauth_token=SecretStr("oat-1"))
    token = inspect_credentials(oauth).credential
    assert token is not None
    env = child_env(oauth, parent, config_dir=run_dir, client={token.env_var: "cwjob-token"})
    present = [k for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN") if k in env]
    assert present == ["CLAUDE_CODE_OAUTH_TOKEN"]
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "cwjob-token" and "oat-1" not in env.values()


def test_blank_secrets_mean_unset(make_settings: MakeSettings) -> None:
    settings = make_settings(claude_workers_api_token=SecretStr("  "), anthropic_api_key=SecretStr(""))
    assert settings.claude_workers_api_token is None and settings.anthropic_api_key is None


def test_the_credential_sync_outlives_a_chore_that_breaks(
    make_settings: MakeSettings, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A chore's bug must not end the thread: the host would stop following the fleet's login."""
    from redis import Redis

    from app.fleet.shared_login import CredentialSync

    sync = CredentialSync(Redis.from_url(redis_url), make_settings(claude_workers_prefix="cwt-sync"), interval=0.01)
    looks: list[int] = []

    def breaks() -> None:
        looks.append(1)
        raise KeyError("access_token")

    sync.also(breaks)
    sync.start()
    try:
        deadline = time.monotonic() + 10
        while len(looks) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sync.stop()
    assert len(looks) >= 3
    assert "breaks failed (KeyError); the next look tries again" in caplog.text
