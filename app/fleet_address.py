"""Which fleet a command talks to: ``REDIS_URL``, else the local fleet that ``claude-workers up`` runs.

There is no silent default. A command that needs a fleet and finds neither says so (``NoFleet``);
it never queues into, or reports on, whatever Redis happens to listen on 127.0.0.1:6379.

``claude-workers up`` records itself in ``<data dir>/local-fleet.json`` (its pid and its Redis URL)
while it runs. A record whose process is gone (``up`` was SIGKILLed) counts as no fleet.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from app.errors import NoFleet

RECORD_FILE = "local-fleet.json"


@dataclass(frozen=True)
class LocalFleetRecord:
    pid: int
    redis_url: str

    def write(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / RECORD_FILE
        temporary = path.with_suffix(".tmp")
        # the URL may carry a password (REDIS_URL with one): readable by this user only
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        temporary.replace(path)

    @staticmethod
    def remove(data_dir: Path, pid: int) -> None:
        """Remove the record if it is ``pid``'s (a second ``up`` that refused to start must not remove it)."""
        found = running_local_fleet(data_dir)
        if found is None or found.pid == pid:
            (data_dir / RECORD_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def running_local_fleet(data_dir: Path) -> LocalFleetRecord | None:
    """The local fleet running now, from its record; None when there is none or its process is gone."""
    try:
        raw = json.loads((data_dir / RECORD_FILE).read_text())
        record = LocalFleetRecord(pid=int(raw["pid"]), redis_url=str(raw["redis_url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if _alive(record.pid) else None


def redis_url(configured: str | None, data_dir: Path) -> str:
    """``configured`` (REDIS_URL), else the running local fleet's Redis; else raise NoFleet."""
    if configured:
        return configured
    running = running_local_fleet(data_dir)
    if running is None:
        raise NoFleet(
            f"No fleet to talk to: REDIS_URL is not set and no local fleet is running (looked in {data_dir})."
        )
    return running.redis_url
