"""``claude-workers up``: the local fleet (embedded Redis unless REDIS_URL is set)."""

from __future__ import annotations

import click

from app.local_fleet import LocalFleet
from app.settings import get_settings


@click.command("up")
@click.option(
    "--workers",
    "-n",
    type=click.IntRange(1, 10),
    default=2,
    show_default=True,
    help="Worker processes (each serves health on the first free port of 8080-8089).",
)
@click.option("--api/--no-api", default=True, show_default=True, help="Also run the jobs API on port 8000.")
def up_command(workers: int, api: bool) -> None:
    """Run a whole fleet here: Redis (embedded with AOF unless REDIS_URL is set), N workers, the API.

    Workers that die are restarted. Ctrl-C stops everything; running jobs finish first, and a
    second Ctrl-C requeues them.
    """
    raise SystemExit(LocalFleet(get_settings(), workers, api=api).run())
