"""The ``claude-workers`` command line. Commands live in one module each; logic lives elsewhere."""

from __future__ import annotations

import sys

import click
import redis

from app import __version__
from app.claude_auth_manager import auth
from app.cli.api import api_command
from app.cli.batch import batch_group
from app.cli.health_gateway import health_gateway_command
from app.cli.jobs import jobs_group
from app.cli.run import run_command
from app.cli.status import status_command
from app.cli.submit import submit_command
from app.cli.up import up_command
from app.cli.worker import worker_command
from app.errors import ClaudeWorkersError
from app.logs import configure_logging
from app.proc import make_undumpable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="claude-workers")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """Run Claude jobs on a fleet of workers that share one Claude login."""
    configure_logging(verbose)


for command in (
    run_command,
    submit_command,
    jobs_group,
    batch_group,
    status_command,
    worker_command,
    up_command,
    api_command,
    health_gateway_command,
    auth,
):
    cli.add_command(command)


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


def main(argv: list[str] | None = None) -> None:
    make_undumpable()  # this process may hold a credential; nothing else of this user reads it
    run_group(cli, argv)
