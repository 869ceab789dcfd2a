"""The ``claude-workers`` command line. Commands live in one module each; logic lives elsewhere."""

from __future__ import annotations

import click

from app import __version__
from app.cli.api import api_command
from app.cli.auth import auth
from app.cli.batch import batch_group
from app.cli.errors import run_group
from app.cli.health_gateway import health_gateway_command
from app.cli.jobs import jobs_group
from app.cli.run import run_command
from app.cli.status import status_command
from app.cli.submit import submit_command
from app.cli.up import up_command
from app.cli.worker import worker_command
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


def main(argv: list[str] | None = None) -> None:
    make_undumpable()  # this process may hold a credential; nothing else of this user reads it
    run_group(cli, argv)
