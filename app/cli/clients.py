"""``claude-workers clients``: the teams, services and pipelines that share the fleet, each with its key."""

from __future__ import annotations

from typing import Any

import click

from app.cli.context import connect, echo_json


def _limits(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--daily-budget-usd", type=click.FloatRange(min=0), help="US dollars a day, then 429."),
            click.option("--monthly-budget-usd", type=click.FloatRange(min=0), help="US dollars a month, then 429."),
            click.option(
                "--max-running", type=click.IntRange(min=1), help="Jobs of this client running at once, at most."
            ),
            click.option(
                "--max-queued", type=click.IntRange(min=1), help="Jobs of this client not yet ended, at most."
            ),
            click.option(
                "--allowed-tools",
                help="Tools its jobs may list (comma-separated; within the fleet's CLAUDE_WORKERS_ALLOWED_TOOLS).",
            ),
        ]
    ):
        func = option(func)
    return func


def _values(options: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in options.items() if v is not None}
    if "allowed_tools" in values:
        values["allowed_tools"] = [t.strip() for t in values["allowed_tools"].split(",") if t.strip()]
    return values


def _show(client: dict[str, Any], spent: dict[str, float] | None = None) -> None:
    def limit(value: Any, unit: str = "") -> str:
        return "none" if value is None else f"{unit}{value:g}" if isinstance(value, float) else f"{unit}{value}"

    click.echo(f"{client['name']}{'  (revoked)' if client['revoked_at'] else ''}")
    click.echo(f"  daily budget   {limit(client['daily_budget_usd'], '$')}")
    click.echo(f"  monthly budget {limit(client['monthly_budget_usd'], '$')}")
    click.echo(f"  max running    {limit(client['max_running'])}")
    click.echo(f"  max queued     {limit(client['max_queued'])}")
    tools = client["allowed_tools"]
    click.echo(f"  tools          {'as the fleet allows' if tools is None else ', '.join(tools) or 'none'}")
    if spent is not None:
        click.echo(f"  spent          ${spent['today_usd']:.4f} today, ${spent['this_month_usd']:.4f} this month")


@click.group("clients")
def clients_group() -> None:
    """Give each team, service or pipeline its own API key, with budgets and limits.

    \b
    A client key acts as that client on the jobs API: it sees, cancels and requeues only
    its own jobs and batches. CLAUDE_WORKERS_API_TOKEN stays the operator's key.
    """


@clients_group.command("add")
@click.argument("name")
@_limits
@click.option("--json", "as_json", is_flag=True, help="Print {name, key} as JSON.")
def add_command(name: str, as_json: bool, **options: Any) -> None:
    """Create client NAME and print its API key (shown once: only its hash is kept)."""
    from app.fleet import clients
    from app.fleet.keys import Keys

    settings, conn = connect()
    client, key = clients.add(conn, Keys(settings.claude_workers_prefix), name, **_values(options))
    if as_json:
        echo_json({"name": client.name, "key": key})
        return
    click.echo(key)
    click.echo(
        f"Client {client.name} created. Its key is above, shown this once: give it to them now.\n"
        f"They send: Authorization: Bearer <key>",
        err=True,
    )


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the clients as a JSON list.")
def list_command(as_json: bool) -> None:
    """Every client, its limits and what it spent today."""
    from app.fleet import clients
    from app.fleet.keys import Keys

    settings, conn = connect()
    keys = Keys(settings.claude_workers_prefix)
    rows = [
        {**c.public(), "spent": clients.spend(conn, keys, c.name, settings.timezone)}
        for c in clients.all_clients(conn, keys)
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No clients yet. Add one with: claude-workers clients add NAME")
        return
    click.echo(f"{'NAME':<24} {'STATE':<8} {'TODAY':>10} {'DAILY':>10} {'MONTHLY':>10} {'QUEUED MAX':>10}")
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        daily = "-" if row["daily_budget_usd"] is None else f"${row['daily_budget_usd']:g}"
        monthly = "-" if row["monthly_budget_usd"] is None else f"${row['monthly_budget_usd']:g}"
        queued = "-" if row["max_queued"] is None else str(row["max_queued"])
        click.echo(
            f"{row['name']:<24} {state:<8} {'$' + format(row['spent']['today_usd'], '.4f'):>10} "
            f"{daily:>10} {monthly:>10} {queued:>10}"
        )


@clients_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
def show_command(name: str, as_json: bool) -> None:
    """One client: its limits and what it spent today and this month."""
    from app.fleet import clients
    from app.fleet.keys import Keys

    settings, conn = connect()
    keys = Keys(settings.claude_workers_prefix)
    client = clients.get(conn, keys, name).public()
    spent = clients.spend(conn, keys, name, settings.timezone)
    if as_json:
        echo_json({**client, "spent": spent, "open_jobs": clients.open_count(conn, keys, name)})
        return
    _show(client, spent)


@clients_group.command("update")
@click.argument("name")
@_limits
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
def update_command(name: str, as_json: bool, **options: Any) -> None:
    """Change client NAME's budgets and limits (its key stays)."""
    from app.fleet import clients
    from app.fleet.keys import Keys

    values = _values(options)
    if not values:
        raise click.UsageError("Give at least one of the limits to change (see --help).")
    settings, conn = connect()
    client = clients.update(conn, Keys(settings.claude_workers_prefix), name, **values).public()
    if as_json:
        echo_json(client)
        return
    _show(client)


@clients_group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Refuse client NAME's key from now on, on every API process (its jobs stay)."""
    from app.fleet import clients
    from app.fleet.keys import Keys

    settings, conn = connect()
    clients.revoke(conn, Keys(settings.claude_workers_prefix), name)
    click.echo(f"Client {name}'s key is refused from now on. Give them a new one with: claude-workers clients add")
