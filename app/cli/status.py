"""``claude-workers status``: the fleet at a glance."""

from __future__ import annotations

import click

from app.cli import render
from app.cli.context import connect, echo_json


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the same object as GET /fleet.")
def status_command(as_json: bool) -> None:
    """Fleet state, workers with their current job, queue depths, failed jobs."""
    from app.fleet.snapshot import take

    settings, conn = connect()
    snap = take(conn, settings)
    if as_json:
        echo_json(snap.to_dict())
        return
    render.status(snap)
