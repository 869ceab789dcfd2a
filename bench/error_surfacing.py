"""Time for an auth or rate-limit error to surface, with the real CLI, against the CLI's defaults.

Ours: run_claude (CLAUDE_CODE_MAX_RETRIES=2, and a 429 retry loop cut at its first
announcement). Baseline: the same CLI with its default retries (10), measured here unless
--quick, where the facts file's measurement (184.8 s for a 401, 204 s for a 429) stands in.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time

from app.claude.request import RunRequest
from app.claude.runner import run_claude
from app.errors import ClaudeError
from app.settings import PINNED_CLAUDE_BIN, Settings
from bench.common import Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply

FACTS = {"auth": 184.8, "rate_limit": 204.0}


def ours(fake: FakeAnthropicAPI, kind: str) -> float:
    fake.always(Reply.of(kind, retry_after=7) if kind == "rate_limit" else Reply.of(kind))
    settings = Settings(_env_file=None, anthropic_base_url=fake.url, anthropic_api_key="sk-ant-bench")  # type: ignore[call-arg]
    started = time.monotonic()
    with contextlib.suppress(ClaudeError):
        run_claude(RunRequest(prompt="say OK"), settings)
    return time.monotonic() - started


def cli_defaults(fake: FakeAnthropicAPI, kind: str) -> float:
    fake.always(Reply.of(kind, retry_after=7) if kind == "rate_limit" else Reply.of(kind))
    config = tempfile.mkdtemp()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": config,
        "CLAUDE_CONFIG_DIR": config,
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    started = time.monotonic()
    subprocess.run(
        [str(PINNED_CLAUDE_BIN), "-p", "say OK", "--output-format", "json"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=600,
    )
    return time.monotonic() - started


def main() -> list[Figure]:
    quick = "--quick" in sys.argv
    figures = []
    with isolated(), FakeAnthropicAPI() as fake:
        for kind, label in (("auth", "401 invalid API key"), ("rate_limit", "429 rate limit, retry-after 7")):
            mine = ours(fake, kind)
            base = FACTS[kind] if quick else cli_defaults(fake, kind)
            figures.append(
                Figure(
                    f"error_surfacing_{kind}",
                    f"seconds until a {label} reaches the caller",
                    mine,
                    base,
                    "s",
                    "seconds, not minutes",
                    "CLI defaults" + (" (facts file)" if quick else " (measured)"),
                )
            )
    return publish(figures)


if __name__ == "__main__":
    main()
