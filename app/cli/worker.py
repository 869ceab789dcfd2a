"""``claude-workers worker``: one fleet worker (the container's entrypoint)."""

from __future__ import annotations

import logging
import threading

import click

from app.fleet.worker import run_worker
from app.settings import get_settings

log = logging.getLogger("app.worker")


def _preload_api_engine() -> None:
    # forked job processes inherit the loaded SDK instead of importing it (seconds) per job
    def load() -> None:
        import anthropic  # noqa: F401

    threading.Thread(target=load, name="preload-anthropic", daemon=True).start()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit (for scripts and tests).")
@click.option(
    "--redis-wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for Redis at start before giving up.",
)
def worker_command(burst: bool, redis_wait: float) -> None:
    """Run one fleet worker: waits for Redis, then runs Claude jobs behind the fleet gate."""
    settings = get_settings()
    if settings.claude_preload_api_engine:
        _preload_api_engine()
    raise SystemExit(run_worker(settings, burst=burst, redis_wait=redis_wait))
