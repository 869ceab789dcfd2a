"""``claude-workers api``: the jobs API server (FastAPI on uvicorn)."""

from __future__ import annotations

import logging

import click
import uvicorn

from app.api.app import create_app
from app.errors import ConfigError
from app.settings import get_settings

log = logging.getLogger("app.api")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def api_command(host: str, port: int) -> None:
    """Serve the jobs API (OpenAPI docs at /docs)."""
    settings = get_settings()
    published = settings.claude_workers_api_published_on
    if settings.claude_workers_api_token is None and host not in LOOPBACK:
        if published is None:
            log.warning(
                "no CLAUDE_WORKERS_API_TOKEN is set, so the API listens on 127.0.0.1 only (not %s); "
                "set a token to serve other hosts",
                host,
            )
            host = "127.0.0.1"
        elif published not in LOOPBACK:
            raise ConfigError(
                f"The API would be published on {published} without a token: anyone who reaches this "
                "host could run jobs on your Claude account.",
                hint="Set CLAUDE_WORKERS_API_TOKEN (e.g. `openssl rand -hex 32`), or publish on 127.0.0.1 "
                "(unset CLAUDE_WORKERS_API_BIND).",
            )
        else:
            log.info("no CLAUDE_WORKERS_API_TOKEN is set: the API is published on %s only", published)
    elif settings.claude_workers_api_token is None:
        log.info("no CLAUDE_WORKERS_API_TOKEN is set: the API is open to local clients only (127.0.0.1)")
    log.info("jobs API on http://%s:%d (docs at /docs)", host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
