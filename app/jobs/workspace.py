"""The directory a job runs in: always under CLAUDE_WORKSPACE_ROOT, fresh per job by default.

Two subtrees that never meet: ``jobs/<id>`` is one job's private workspace, and ``named/<name>``
holds the workspaces jobs ask for by name. No name reaches another job's private one.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from app.errors import InvalidRequest


def resolve_workspace(root: Path, name: str) -> Path:
    """``root/name``, refusing anything that resolves outside ``root`` (``..``, symlinks)."""
    base = root.resolve()
    target = (base / name).resolve()
    if target != base and base not in target.parents:
        raise InvalidRequest(
            f"The workspace {name!r} resolves outside CLAUDE_WORKSPACE_ROOT ({base}).",
            hint="Give a relative path inside the workspace root.",
        )
    return target


@contextlib.contextmanager
def job_workspace(root: Path, job_id: str, name: str | None, keep: bool) -> Iterator[Path]:
    """A named workspace is the user's and stays; a fresh one is removed afterwards unless ``keep``."""
    if name is not None:
        path = resolve_workspace(root, f"named/{name}")
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = resolve_workspace(root, f"jobs/{job_id}")
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
