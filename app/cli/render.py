"""How the commands print: ``rich`` tables and colour on a terminal, plain stable lines when piped.

``--json`` output never comes through here. The plain forms are for scripts and logs: one record
per line, fixed columns, no colour, no symbols. ``rich`` is imported only when stdout is a terminal,
so piped commands stay light.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from app.fleet.state import ACTIONS
from app.states import State

if TYPE_CHECKING:
    from rich.console import Console

    from app.fleet.snapshot import FleetSnapshot

#: the README's symbols and a colour for each fleet state
STATE_LOOK: dict[str, tuple[str, str]] = {
    "ready": ("✅", "green"),
    "auth_required": ("⚠️ ", "yellow"),
    "quota_exceeded": ("🔄", "yellow"),
    "rate_limited": ("🔄", "yellow"),
    "overloaded": ("🔄", "yellow"),
    "billing_required": ("⚠️ ", "red"),
    "budget_exceeded": ("💰", "yellow"),
}
STATUS_COLOUR = {
    "finished": "green",
    "failed": "red",
    "started": "cyan",
    "waiting": "yellow",
    "scheduled": "yellow",
    "canceled": "dim",
}


def terminal() -> Console | None:
    """A rich console when stdout is a terminal (or FORCE_COLOR is set); None when piped."""
    if not (sys.stdout.isatty() or os.environ.get("FORCE_COLOR")):
        return None
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


# -- values ------------------------------------------------------------------------------
def when(epoch: float | None) -> str:
    """Local time, to the second; "-" for none."""
    return "-" if not epoch else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def took(start: float | None, end: float | None) -> str:
    if not start or not end:
        return "-"
    seconds = max(0.0, end - start)
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def money(usd: float | None) -> str:
    """Dollars a person can read: $1.23, and three significant digits below a dollar ($0.0104, $0.000104)."""
    if usd is None:
        return "-"
    if usd <= 0 or usd >= 1:
        return f"${usd:.2f}"
    return f"${usd:.{2 - math.floor(math.log10(usd))}f}"


def cost_of(view: dict[str, Any]) -> float | None:
    cost = (view.get("result") or {}).get("cost_usd")
    return float(cost) if isinstance(cost, int | float) else None


def first_line(text: str, width: int = 60) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def last_worker(view: dict[str, Any]) -> str:
    attempts = view.get("attempts") or []
    return str(attempts[-1].get("worker") or "-") if attempts else "-"


# -- status -------------------------------------------------------------------------------
def status(snap: FleetSnapshot) -> None:
    gate = snap.gate
    closed = snap.state != State.READY
    reason = gate.reason if not gate.is_open else "no worker has a Claude credential"
    console = terminal()
    probe = ""
    if not gate.is_open and gate.until:
        probe = f"next probe in {max(0.0, gate.until - time.time()):.0f}s" + (
            f" by {snap.probe_holder}" if snap.probe_holder else ""
        )
    if console is None:
        click.echo(f"fleet:     {snap.label}" + (f" ({reason[:100]})" if closed else ""))
        if probe:
            click.echo(probe)
        click.echo(
            f"queued:    {snap.queued} (runnable {snap.runnable})   scheduled: {snap.scheduled}   "
            f"started: {snap.started}   finished: {snap.finished}   failed: {snap.failed}"
        )
        click.echo(f"workers:   {len(snap.workers)}")
        for worker in snap.workers:
            click.echo(
                f"  {worker['name']:28} {worker['state'] or '?':10} job {worker['current_job'] or '-'}  "
                f"health {worker.get('health_url') or '-'}{_gateway(worker)}"
            )
        if snap.failed:
            click.echo(
                "failed jobs: claude-workers jobs list --status failed   (requeue: claude-workers jobs requeue ID)"
            )
        return

    from rich.table import Table
    from rich.text import Text

    symbol, colour = STATE_LOOK.get(snap.state, ("•", "white"))
    headline = Text.assemble((f"{symbol} {snap.label}", f"bold {colour}"))
    if closed:
        headline.append(f"  {reason[:100]}", style="dim")
    console.print(headline)
    if closed:
        if probe:
            console.print(f"   {probe}", style="dim")
        console.print(f"   {ACTIONS.get(snap.state, '')}")
    console.print(
        f"queued [bold]{snap.queued}[/] (runnable {snap.runnable})  scheduled {snap.scheduled}  "
        f"started {snap.started}  finished [green]{snap.finished}[/]  failed "
        + (f"[red]{snap.failed}[/]" if snap.failed else "0")
    )
    table = Table(title=f"{len(snap.workers)} worker(s)", title_justify="left", show_edge=False)
    for column in ("worker", "state", "job", "health", "last heartbeat"):
        table.add_column(column)
    for worker in snap.workers:
        table.add_row(
            worker["name"],
            worker["state"] or "?",
            worker["current_job"] or "-",
            (worker.get("health_url") or "-") + _gateway(worker),
            worker.get("last_heartbeat") or "-",
        )
    console.print(table)
    if snap.failed:
        console.print("failed jobs: [bold]claude-workers jobs list --status failed[/]  (then: jobs requeue ID)")


def _gateway(worker: dict[str, Any]) -> str:
    from app.fleet.presence import GATEWAY_PORT

    slot = worker.get("health_slot")
    return f"  (gateway port {GATEWAY_PORT + slot})" if slot is not None else ""


# -- jobs ---------------------------------------------------------------------------------
JOB_COLUMNS = ("ID", "STATUS", "SUBMITTED", "TOOK", "ATT", "COST", "PROMPT")


def job_list(views: list[dict[str, Any]]) -> None:
    rows = [
        (
            view["id"],
            view["status"],
            when(view.get("submitted_at")),
            took(view.get("started_at"), view.get("ended_at")),
            str(len(view.get("attempts") or [])),
            money(cost_of(view)),
            first_line(view["spec"].get("prompt") or ""),
        )
        for view in views
    ]
    console = terminal()
    if console is None:
        widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(JOB_COLUMNS)]
        for row in (JOB_COLUMNS, *rows):
            click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for column in JOB_COLUMNS:
        table.add_column(column.lower(), no_wrap=column != "PROMPT", overflow="ellipsis")
    for row in rows:
        colour = STATUS_COLOUR.get(row[1], "")
        table.add_row(row[0], f"[{colour}]{row[1]}[/]" if colour else row[1], *row[2:])
    console.print(table)


def job(view: dict[str, Any]) -> None:
    facts = [
        ("status", view["status"]),
        ("submitted", when(view.get("submitted_at"))),
        ("started", when(view.get("started_at"))),
        ("ended", when(view.get("ended_at"))),
        ("took", took(view.get("started_at"), view.get("ended_at"))),
        ("worker", last_worker(view)),
        ("cost", money(cost_of(view))),
    ]
    if view.get("next_attempt_at"):
        facts.append(("next attempt", when(view["next_attempt_at"])))
    console = terminal()
    if console is None:
        click.echo(f"job {view['id']}")
        for name, value in facts:
            click.echo(f"  {name + ':':13} {value}")
        for attempt in view["attempts"]:
            probe = " (probe)" if attempt.get("probe") else ""
            message = f" {attempt['message']}" if attempt.get("message") else ""
            click.echo(
                f"  attempt {attempt['n']}: {attempt['outcome']}{probe} at {when(attempt.get('started_at'))} "
                f"on {attempt.get('worker') or '-'}{message}"
            )
        if view["result"]:
            click.echo(view["result"].get("text", ""))
        if view["error"]:
            click.echo(view["error"])
        return
    from rich.table import Table

    colour = STATUS_COLOUR.get(view["status"], "")
    console.print(f"[bold]job {view['id']}[/]  " + (f"[{colour}]{view['status']}[/]" if colour else view["status"]))
    for name, value in facts[1:]:
        console.print(f"  [dim]{name:12}[/] {value}")
    if view["attempts"]:
        table = Table(show_edge=False)
        for column in ("#", "outcome", "started", "took", "worker", "message"):
            table.add_column(column)
        for attempt in view["attempts"]:
            table.add_row(
                str(attempt["n"]),
                attempt["outcome"] + (" (probe)" if attempt.get("probe") else ""),
                when(attempt.get("started_at")),
                took(attempt.get("started_at"), attempt.get("ended_at")),
                attempt.get("worker") or "-",
                attempt.get("message") or "",
            )
        console.print(table)
    if view["result"]:
        console.print(view["result"].get("text", ""), markup=False)
    if view["error"]:
        console.print(view["error"], style="red", markup=False)


def outcome(view: dict[str, Any]) -> None:
    """The end of ``submit --wait``: the result on stdout; the id, status, time and cost on stderr."""
    summary = (
        f"job {view['id']} {view['status']} in {took(view.get('started_at'), view.get('ended_at'))}, "
        f"{len(view.get('attempts') or [])} attempt(s), cost {money(cost_of(view))}"
    )
    click.echo(summary, err=True)
    if view["status"] == "finished":
        click.echo((view["result"] or {}).get("text", ""))
    else:
        click.echo(view["error"] or f"job {view['id']} {view['status']}", err=True)


# -- events -------------------------------------------------------------------------------
def event_line(event: dict[str, Any]) -> str:
    """One event as a line: local time, kind, job, and what the event says."""
    skip = {"id", "kind", "at", "job", "batch"}
    details = "  ".join(f"{k}={v}" for k, v in event.items() if k not in skip and v not in (None, ""))
    moment = time.strftime("%H:%M:%S", time.localtime(event["at"]))
    return f"{moment}  {event['kind']:18} {event.get('job') or '-':32}  {details}".rstrip()
