"""The ``claude-workers`` command line. Commands live in one module each; logic lives elsewhere.

Commands are imported when they run, not before: ``--help`` and the light commands start in a
fraction of the time the API's imports (FastAPI, uvicorn) would take.
"""

from __future__ import annotations

import importlib

import click

from app import __version__
from app.cli.errors import run_group
from app.logs import configure_logging
from app.proc import make_undumpable

#: name -> (module:attribute, the one-line help shown by `claude-workers --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("app.cli.run:run_command", "Run PROMPT through Claude once, now, without the queue."),
    "submit": ("app.cli.submit:submit_command", "Queue PROMPT as a Claude job; --wait for its result."),
    "jobs": ("app.cli.jobs:jobs_group", "List, show, watch, requeue and cancel jobs."),
    "batch": ("app.cli.batch:batch_group", "Submit a JSONL batch and read its results."),
    "clients": ("app.cli.clients:clients_group", "Give teams their own API keys, budgets and limits."),
    "status": ("app.cli.status:status_command", "The fleet at a glance: state, workers, queues."),
    "worker": ("app.cli.worker:worker_command", "Run one fleet worker (the container's entrypoint)."),
    "up": ("app.cli.up:up_command", "Run a whole fleet here: Redis, workers, the API."),
    "api": ("app.cli.api:api_command", "Serve the jobs API (OpenAPI docs at /docs)."),
    "health-gateway": (
        "app.cli.health_gateway:health_gateway_command",
        "Serve port 8080+N for the worker in health slot N (compose).",
    ),
    "auth": ("app.cli.auth:auth", "Set up, check and test the Claude login every worker shares."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when one is run or asked for its help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="claude-workers")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """Run Claude jobs on a fleet of workers that share one Claude login."""
    configure_logging(verbose)


def main(argv: list[str] | None = None) -> None:
    make_undumpable()  # this process may hold a credential; nothing else of this user reads it
    run_group(cli, argv)
