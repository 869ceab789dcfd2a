"""``claude-workers status``: the fleet at a glance."""

from __future__ import annotations

import time

import click

from app.cli.context import connect, echo_json
from app.fleet.presence import GATEWAY_PORT
from app.fleet.snapshot import take


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the same object as GET /fleet.")
def status_command(as_json: bool) -> None:
    """Fleet state, workers with their current job, queue depths, failed jobs."""
    settings, conn = connect()
    snap = take(conn, settings)
    if as_json:
        echo_json(snap.to_dict())
        return
    gate = snap.gate
    click.echo(f"fleet:     {gate.label}" + ("" if gate.is_open else f" ({gate.reason[:100]})"))
    if not gate.is_open and gate.until:
        click.echo(
            f"next probe in {max(0.0, gate.until - time.time()):.0f}s"
            + (f" by {snap.probe_holder}" if snap.probe_holder else "")
        )
    click.echo(
        f"queued:    {snap.queued} (runnable {snap.runnable})   scheduled: {snap.scheduled}   "
        f"started: {snap.started}   finished: {snap.finished}   failed: {snap.failed}"
    )
    click.echo(f"workers:   {len(snap.workers)}")
    for worker in snap.workers:
        job = worker["current_job"] or "-"
        slot = worker.get("health_slot")
        where = worker.get("health_url") or "-"
        gateway = f"  (gateway port {GATEWAY_PORT + slot})" if slot is not None else ""
        click.echo(f"  {worker['name']:28} {worker['state'] or '?':10} job {job}  health {where}{gateway}")
    if snap.failed:
        click.echo("failed jobs: claude-workers jobs list --status failed   (requeue: claude-workers jobs requeue ID)")
