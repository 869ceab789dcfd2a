"""``claude-workers health-gateway``: the guide's health ports in front of a scaled compose fleet."""

from __future__ import annotations

import click

from app.fleet.keys import Keys
from app.fleet.presence import GATEWAY_PORT
from app.health_gateway import HealthGateway
from app.redis_conn import connect, wait_for_redis
from app.settings import get_settings


@click.command("health-gateway")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--base-port", type=click.IntRange(1, 65525), default=GATEWAY_PORT, show_default=True)
def health_gateway_command(host: str, base_port: int) -> None:
    """Answer port BASE+N with the health of the worker in slot N (8080: the first worker).

    Workers claim slots 0-9 in Redis as they start and keep them across restarts, so the
    guide's `curl localhost:8080/health`, 8081, 8082 ... work after `--scale worker=3`.
    """
    settings = get_settings()
    conn = connect(settings, socket_timeout=2, connect_timeout=1)
    wait_for_redis(settings, timeout=settings.claude_redis_wait, conn=conn)
    HealthGateway(conn, Keys(settings.claude_workers_prefix), host, base_port).serve()
