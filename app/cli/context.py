"""What the data commands share: settings, a Redis connection, the gate, JSON output.

Redis, RQ and the settings model are imported when a command runs, not when its module is
loaded: ``claude-workers jobs --help`` must not pay for them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from redis import Redis

    from app.fleet.state import FleetState
    from app.settings import Settings


def connect() -> tuple[Settings, Redis]:
    from app.redis_conn import wait_for_redis
    from app.settings import get_settings

    settings = get_settings()
    return settings, wait_for_redis(settings, timeout=5)


def gate_state(conn: Redis, settings: Settings) -> FleetState:
    from app.fleet.gate import Gate

    return Gate.of(conn, settings).read()


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, default=str))
