"""Where this process runs (a Docker container, a Kubernetes pod, or a plain host), so that every
instruction we print names the command that works *there*: ``docker compose exec worker ...`` only
inside compose, ``kubectl exec ...`` in a pod, the bare command on a host.
"""

from __future__ import annotations

import os
from typing import Literal

from app.errors import SETUP_COMMAND

Place = Literal["docker", "kubernetes", "host"]


def runs_in() -> Place:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    # our image says so itself; /.dockerenv alone would also name any CI or dev container "compose"
    if os.environ.get("CLAUDE_WORKERS_IMAGE") == "1":
        return "docker"
    return "host"


def setup_commands(place: Place | None = None) -> list[str]:
    """How to log the fleet in from where an operator stands, first choice first."""
    place = place or runs_in()
    if place == "docker":
        return [f"docker compose exec worker {SETUP_COMMAND}", f"(inside this container: {SETUP_COMMAND})"]
    if place == "kubernetes":
        return [f"kubectl exec -it <a worker pod> -- {SETUP_COMMAND}"]
    return [SETUP_COMMAND]


def health_url(port: int, place: Place | None = None) -> str:
    """The address an operator curls: compose publishes the gateway's 8080, not the worker's own port."""
    place = place or runs_in()
    return "http://localhost:8080/health" if place == "docker" else f"http://localhost:{port}/health"
