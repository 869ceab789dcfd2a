"""What the isolation costs a job: one CLI run sandboxed behind the credential proxy, against the
same run bare (CLAUDE_SANDBOX=off, still through the proxy) and against the CLI run directly with
the key in its environment, as before the proxy. Real CLI, fake API on loopback, medians of 9.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time

from app.claude import sandbox
from app.claude.request import RunRequest
from app.claude.runner import run_claude
from app.settings import PINNED_CLAUDE_BIN, Settings
from bench.common import Figure, isolated, publish
from tests.fakes.anthropic_api import FakeAnthropicAPI

RUNS = 9


def ours(fake: FakeAnthropicAPI, mode: str) -> float:
    settings = Settings(
        _env_file=None, anthropic_base_url=fake.url, anthropic_api_key="sk-ant-bench", claude_sandbox=mode
    )  # type: ignore[call-arg]
    workspace = tempfile.mkdtemp()
    started = time.monotonic()
    run_claude(RunRequest(prompt="say OK", cwd=workspace), settings)
    return time.monotonic() - started


def direct(fake: FakeAnthropicAPI) -> float:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": tempfile.mkdtemp(),
        "CLAUDE_CONFIG_DIR": tempfile.mkdtemp(),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    started = time.monotonic()
    subprocess.run(
        [str(PINNED_CLAUDE_BIN), "--verbose", "--output-format=stream-json", "-p"],
        input="say OK",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.monotonic() - started


def main() -> None:
    with isolated(), FakeAnthropicAPI() as fake:
        ours(fake, "off")  # warm-up: page cache, the CLI binary
        bare = statistics.median(ours(fake, "off") for _ in range(RUNS))
        before = statistics.median(direct(fake) for _ in range(RUNS))
        figures = [
            Figure(
                "proxy_cost",
                "seconds per CLI run through the credential proxy, no sandbox (median of 9)",
                bare,
                before,
                "s",
                "close to 1x",
                "the CLI with the key in its environment",
            )
        ]
        if sandbox.bwrap_problem() is None:
            boxed = statistics.median(ours(fake, "bwrap") for _ in range(RUNS))
            figures.append(
                Figure(
                    "sandbox_cost",
                    "seconds per CLI run sandboxed with bubblewrap behind the proxy (median of 9)",
                    boxed,
                    bare,
                    "s",
                    "well under a second more",
                    "the same run without the sandbox",
                    notes=f"isolation here: {sandbox.probe()[0]}; the CLI run directly: {before:.3f} s",
                )
            )
    publish(figures)


if __name__ == "__main__":
    main()
