"""A job's workspace handed back: the whole of it, or named files, as a tar stream.

Only while the workspace is there: a job that asked to keep it (``keep_workspace``), a named
workspace, or a job that has not ended yet. A name must stay inside the workspace (``..`` and
symlinks that lead out are refused), and symlinks inside are sent as links, never followed.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from redis import Redis

from app.errors import ClaudeWorkersError
from app.fleet import clients
from app.jobs import service
from app.jobs.workspace import kept_workspace
from app.settings import Settings

MAX_NAMES = 200


class WorkspaceGone(ClaudeWorkersError):
    """The job's workspace is not kept, or not on this machine (HTTP 404)."""


class PathRefused(ClaudeWorkersError):
    """A path that leaves the workspace, or is not in it (HTTP 422)."""


def workspace_of(conn: Redis, settings: Settings, job_id: str, client: str | None = None) -> tuple[str, Path]:
    """The job's full id and its workspace, when it is still there."""
    job = service.fetch_for(conn, settings, job_id, client)
    path = kept_workspace(settings.workspace_root, job.id, service.spec_of(job), clients.owner_of(job))
    if path is None:
        raise WorkspaceGone(
            f"Job {job.id} has no workspace here: a fresh workspace is removed when its job ends.",
            hint="Submit with keep_workspace: true (claude-workers submit --keep-workspace) or a named workspace "
            "to fetch its files afterwards. Under Docker, the API and the workers share the workspaces volume.",
        )
    return job.id, path


def select(root: Path, names: list[str]) -> list[Path]:
    """The paths ``names`` mean inside ``root`` (everything for none); refuses any that leave it."""
    if not names:
        return [root.resolve()]
    if len(names) > MAX_NAMES:
        raise PathRefused(f"Ask for at most {MAX_NAMES} paths at once.")
    base = root.resolve()
    chosen = []
    for name in names:
        if "\x00" in name or not name.strip():
            raise PathRefused("A path is empty or holds a NUL character.")
        target = (base / name).resolve()  # an absolute name replaces base, and so is refused below
        if target != base and base not in target.parents:
            raise PathRefused(f"{name!r} is outside the job's workspace; paths are relative to it.")
        if not target.exists():
            raise PathRefused(f"{name!r} is not in the job's workspace.")
        chosen.append(target)
    return chosen


def tar_stream(root: Path, paths: list[Path]) -> Iterator[bytes]:
    """A tar archive of ``paths`` (names relative to ``root``), produced file by file."""
    buffer = io.BytesIO()
    base = root.resolve()
    with tarfile.open(fileobj=buffer, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            for member in _walk(path):
                arcname = member.relative_to(base).as_posix() or "."
                archive.add(str(member), arcname=arcname, recursive=False)
                if buffer.tell():
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
    yield buffer.getvalue()


def _walk(path: Path) -> Iterator[Path]:
    yield path
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.iterdir()):
            yield from _walk(child)
