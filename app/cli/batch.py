"""``claude-workers batch``: JSONL in, JSONL out, keyed by custom_id."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from app.cli.context import connect, echo_json


@click.group("batch")
def batch_group() -> None:
    """Submit many jobs from a JSONL file and collect their results by custom_id."""


@batch_group.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-id", help="Name the batch (default: a hash of the file's content).")
@click.option(
    "--callback-url",
    help="When the batch's last job ends, POST its summary here, signed with CLAUDE_WORKERS_WEBHOOK_SECRET.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the batch summary as JSON.")
def submit_command(file: Path, batch_id: str | None, callback_url: str | None, as_json: bool) -> None:
    """Queue one job per line of FILE (a job spec with a custom_id). Re-running it enqueues nothing twice.

    \b
    Line format:  {"custom_id": "q1", "prompt": "Summarise ...", "model": "sonnet"}
    """
    from app.jobs import batch
    from app.jobs.spec import callback_url_grammar

    try:
        text = file.read_text()
    except UnicodeDecodeError:
        raise click.BadParameter("the file is not UTF-8 text", param_hint="FILE") from None
    items = batch.parse_jsonl(text)
    if callback_url is not None:
        try:
            callback_url_grammar(callback_url)
        except ValueError as exc:
            raise click.BadParameter(f"{exc}", param_hint="--callback-url") from None
    settings, conn = connect()
    with click.progressbar(length=len(items), label="submitting", file=sys.stderr) as bar:
        summary = batch.submit(conn, settings, items, batch_id, progress=lambda _: bar.update(1), callback=callback_url)
    if as_json:
        echo_json(summary)
    else:
        click.echo(summary["id"])
        click.echo(
            f"{summary['new']} queued, {summary['existing']} already there "
            f"(results: claude-workers batch results {summary['id']} --wait)",
            err=True,
        )


@batch_group.command("results")
@click.argument("batch_id")
@click.option("--wait", is_flag=True, help="Wait until every job of the batch has ended.")
def results_command(batch_id: str, wait: bool) -> None:
    """Print one JSON line per custom_id: id, status, result, error."""
    from app.jobs import batch

    settings, conn = connect()
    summary = batch.summary(conn, settings, batch_id)
    if wait and not summary["complete"]:
        with click.progressbar(length=summary["total"], label="waiting", file=sys.stderr) as bar:
            shown = summary["done"]
            bar.update(shown)
            while not summary["complete"]:
                time.sleep(1.0)
                summary = batch.summary(conn, settings, batch_id)
                bar.update(summary["done"] - shown)
                shown = summary["done"]
    for row in batch.results(conn, settings, batch_id):
        click.echo(json.dumps(row, default=str))
