"""Shared fixtures: an isolated environment, the fake Anthropic API, settings, the pinned CLI."""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.settings import PINNED_CLAUDE_BIN, Settings
from tests.fakes.anthropic_api import FakeAnthropicAPI

ROOT = Path(__file__).resolve().parent.parent
#: a canary that must never show up in any output; tests put it in credential slots
CANARY = "sk-ant-CANARY-5ecret-do-not-print-7f3a9c"

_SCRUBBED_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "REDIS_URL", "HEALTH_PORT")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the developer's Claude login, keys or Redis settings."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(name)
    config_dir = tmp_path / "claude-config"
    config_dir.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    from app.settings import get_settings

    get_settings.cache_clear()
    return config_dir


@pytest.fixture(scope="session")
def fake_api_server() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as fake:
        yield fake


@pytest.fixture
def fake_api(fake_api_server: FakeAnthropicAPI) -> FakeAnthropicAPI:
    fake_api_server.reset()
    return fake_api_server


@pytest.fixture(scope="session")
def claude_bin() -> str:
    if not PINNED_CLAUDE_BIN.exists():
        pytest.fail("The pinned Claude CLI is missing: run `npm ci` in the project root (make setup does).")
    return str(PINNED_CLAUDE_BIN)


@pytest.fixture
def make_settings(isolated_env: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"claude_config_dir": isolated_env}
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running ``claude-workers`` as a subprocess in a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["CLAUDE_CONFIG_DIR"] = os.environ["CLAUDE_CONFIG_DIR"]
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


PYTHON = sys.executable


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A database of the shared Redis that holds nothing but this suite's keys."""
    from tests.fleet_harness import find_empty_db

    return find_empty_db()


@pytest.fixture
def guide_ports() -> Iterator[None]:
    """Hold the machine-wide lock on the guide's fixed ports for the test (see GUIDE_PORTS)."""
    lock = Path(tempfile.gettempdir()) / "claude-workers-tests-guide-ports.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield
