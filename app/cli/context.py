"""What the data commands share: settings, a Redis connection, the gate, JSON output."""

from __future__ import annotations

import json
from typing import Any

import click
from redis import Redis

from app.fleet.gate import Gate
from app.fleet.state import FleetState
from app.redis_conn import wait_for_redis
from app.settings import Settings, get_settings


def connect() -> tuple[Settings, Redis]:
    settings = get_settings()
    return settings, wait_for_redis(settings, timeout=5)


def gate_state(conn: Redis, settings: Settings) -> FleetState:
    return Gate.of(conn, settings).read()


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, default=str))
