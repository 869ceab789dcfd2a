"""How every command line of ours ends on an error: its text and hint, never a traceback."""

from __future__ import annotations

import sys

import click
import redis

from app.errors import ClaudeWorkersError


def run_group(group: click.Group, argv: list[str] | None = None) -> None:
    """Run a click group; user-facing errors print their text and hint, never a traceback."""
    try:
        group(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ClaudeWorkersError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except redis.exceptions.OutOfMemoryError:
        click.echo(
            "error: Redis is out of memory (maxmemory reached, noeviction): nothing was written.\n"
            "Free memory (claude-workers jobs list --status failed, then delete what you no longer need) "
            "or raise Redis's maxmemory.",
            err=True,
        )
        sys.exit(1)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        click.echo(f"error: Redis did not answer ({exc}).\nStart Redis or fix REDIS_URL.", err=True)
        sys.exit(1)
