"""The passive answer to "can the fleet use Claude?": files, settings and the fleet state.

It never calls Claude (``claude_auth_manager test`` is the one thing that does) and never
shows a secret: credentials appear as their kind, their source and a fingerprint.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redis import Redis

from app import __version__
from app.claude.credentials import AuthReport, inspect_credentials
from app.errors import SETUP_COMMAND
from app.fleet import shared_login
from app.fleet.snapshot import FleetSnapshot, take
from app.fleet.state import ACTIONS, FleetState
from app.settings import Settings
from app.states import State, exit_code


def is_authenticated(report: AuthReport, gate: FleetState | None) -> bool:
    """A credential is configured and Claude has not rejected it since (as far as the fleet knows)."""
    return report.configured and (gate is None or gate.state != State.AUTH_REQUIRED)


def fleet_snapshot(conn: Redis | None, settings: Settings) -> FleetSnapshot | None:
    if conn is None:
        return None
    try:
        return take(conn, settings, with_workers=False)  # health and auth show no worker list
    except (redis.RedisError, OSError):
        return None


def state_word(report: AuthReport, gate: FleetState | None) -> str:
    if not report.configured:
        return State.AUTH_REQUIRED
    return gate.state if gate is not None else State.READY


def auth_status(settings: Settings, conn: Redis | None) -> dict[str, Any]:
    """The full status object (``GET /auth``, ``claude_auth_manager status --json``)."""
    report = inspect_credentials(settings)
    snap = fleet_snapshot(conn, settings)
    gate = snap.gate if snap else None
    state = state_word(report, gate)
    status: dict[str, Any] = {
        "authenticated": is_authenticated(report, gate),
        "state": state,
        "exit_code": exit_code(state),
        **report.to_dict(),
        "fleet": gate.to_dict() if gate else None,
        "shared": shared_login.describe(conn if snap is not None else None, settings),
        "redis": "reachable" if snap is not None else "unreachable",
        "version": __version__,
        "checked_at": time.time(),
    }
    if not report.configured:
        status["action"] = f"Log in once for the whole fleet: {SETUP_COMMAND}"
    else:
        status["action"] = ACTIONS.get(state, "")
    return status
