"""How every command line of ours ends on an error: its text and hint, never a traceback."""

from __future__ import annotations

import sys

import click

from app.errors import ClaudeWorkersError

REDIS_FULL = (
    "error: Redis is out of memory (maxmemory reached, noeviction): nothing was written.\n"
    "Free memory (claude-workers jobs list --status failed, then delete what you no longer need) "
    "or raise Redis's maxmemory."
)


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
    except Exception as exc:
        message = redis_problem(exc)
        if message is None:
            raise
        click.echo(message, err=True)
        sys.exit(1)


def redis_problem(exc: Exception) -> str | None:
    """What a Redis failure means to the user, or None for anything else."""
    if "redis" not in sys.modules:  # only a command that used Redis can fail in Redis; --help stays light
        return None
    import redis

    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return REDIS_FULL
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return f"error: Redis did not answer ({exc}).\nStart Redis or fix REDIS_URL."
    return None
