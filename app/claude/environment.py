"""The scrubbed environment a Claude CLI run gets.

The CLI reads credentials, base URLs, retry counts and much else from its environment, and
an ``ANTHROPIC_API_KEY`` beats a subscription login (``shared/claude-cli-facts.md`` §4). So a
run inherits only an allowlist of harmless variables and then gets exactly what we decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from app.settings import Settings

#: inherited as they are: process basics, locale, proxies, CA bundles
INHERITED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TMPDIR",
        "SHELL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        # lets a root container use bypassPermissions (the CLI refuses it for uid 0 otherwise)
        "IS_SANDBOX",
    }
)


def child_env(
    settings: Settings, parent: Mapping[str, str], *, config_dir: Path, client: Mapping[str, str]
) -> dict[str, str]:
    """The run's environment: ``parent`` filtered, our settings, its own ``config_dir``, and
    ``client``: what the credential proxy hands it (its base URL and the job's token)."""
    env = {k: v for k, v in parent.items() if k in INHERITED or k.startswith("LC_")}
    env.update(
        {
            "CLAUDE_CONFIG_DIR": str(config_dir),
            # also stops auto-updates and the preflight; keeps a fleet from phoning home per job
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # the CLI's default of 10 retries hides an auth or rate-limit error for ~3 minutes
            "CLAUDE_CODE_MAX_RETRIES": str(settings.claude_cli_max_retries),
            # reset times in the CLI's text are printed in TZ; our fallback parser assumes UTC
            "TZ": "UTC",
        }
    )
    if settings.claude_api_timeout_ms:
        env["API_TIMEOUT_MS"] = str(settings.claude_api_timeout_ms)
    env.update(client)
    return env
