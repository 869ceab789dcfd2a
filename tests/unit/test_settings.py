"""Settings: an empty variable is unset, a bad value names its variable, derived values are right."""

from __future__ import annotations

import pytest

from app.errors import ConfigError
from app.settings import Settings, load_settings


def test_an_empty_variable_means_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # compose passes every setting as ${NAME:-}: empty must never become a value
    for name in (
        "ANTHROPIC_BASE_URL",
        "CLAUDE_JOB_TIMEOUT",
        "CLAUDE_WORKERS_API_TOKEN",
        "ANTHROPIC_API_KEY",
        "REDIS_URL",
    ):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.anthropic_base_url is None
    assert settings.claude_job_timeout == 900
    assert settings.claude_workers_api_token is None and settings.anthropic_api_key is None
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLAUDE_JOB_TIMEOUT", "soon"),
        ("CLAUDE_QUOTA_RESET_JITTER", "60"),
        ("ANTHROPIC_BASE_URL", "/v1/messages"),
        ("CLAUDE_WORKERS_PREFIX", "has space"),
        ("CLAUDE_JOB_RETRY_DELAYS", "10,,60"),
        ("CLAUDE_SANDBOX", "docker"),
        ("CLAUDE_WORKERS_MAX_BUDGET_USD", "nan"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_derived_values() -> None:
    settings = Settings.model_construct(claude_job_retry_delays=" 5, 30 ,120")
    assert settings.job_retry_delays == [5, 30, 120]
    assert str(Settings.model_construct().config_dir).endswith(".config/claude")
