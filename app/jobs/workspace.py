"""Where a job works: always under CLAUDE_WORKSPACE_ROOT, on the volume every worker shares.

Four subtrees that never meet:

* ``jobs/<id>``: one job's private workspace, fresh for it; removed when the job ends unless it
  asked to keep it, and kept between attempts so an interrupted session resumes where it was;
* ``named/<name>``: the workspaces the operator's jobs ask for by name, which stay;
* ``clients/<client>/<name>``: the same for each client: one client's ``reports`` is not another's;
* ``state/<id>``: what a job keeps between its attempts and no run sees as its workspace: the
  CLI's own config dir with the session transcript, and the photograph its changes are measured
  against. It travels with the workspace, so a resume on another worker finds both or neither.

No name reaches another job's private one.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InvalidRequest

#: the subtree of the workspace root that holds each job's state dir
STATE = "state"
#: how a run outside the queue (no RQ job) names its place
LOCAL_RUN = "local-"


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


@dataclass(frozen=True)
class JobPlace:
    """A job's workspace and state dir."""

    workspace: Path
    state: Path
    named: bool  # a named workspace is the user's: never wiped, never removed
    keep: bool

    @classmethod
    def of(cls, root: Path, job_id: str, name: str | None, keep: bool, client: str | None = None) -> JobPlace:
        """The place of job ``job_id`` (of ``client``; None: the operator's)."""
        where = f"jobs/{job_id}"
        if name is not None:
            where = f"named/{name}" if client is None else f"clients/{client}/{name}"
        return cls(resolve_workspace(root, where), resolve_workspace(root, f"{STATE}/{job_id}"), name is not None, keep)

    @classmethod
    def of_job(cls, root: Path, job_id: str, spec: Mapping[str, Any], client: str | None) -> JobPlace:
        """The place of a queued job of ``client``, from its spec as stored."""
        name = spec.get("workspace")
        return cls.of(root, job_id, name if isinstance(name, str) else None, spec.get("keep_workspace") is True, client)

    @property
    def prepared(self) -> bool:
        """Whether an earlier attempt set this job's workspace up (and it is still there)."""
        return self.workspace.is_dir() and (self.state / "started").exists()

    def fresh(self) -> None:
        """Set the workspace up for a first start (or a start over): empty, unless it is a named one."""
        if not self.named:
            shutil.rmtree(self.workspace, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)

    def mark_started(self) -> None:
        (self.state / "started").touch()

    def finish(self) -> None:
        """The job has ended: its state goes, and its workspace too unless it is kept."""
        shutil.rmtree(self.state, ignore_errors=True)
        if not self.named and not self.keep:
            shutil.rmtree(self.workspace, ignore_errors=True)


def kept_workspace(root: Path, job_id: str, spec: Mapping[str, Any], client: str | None) -> Path | None:
    """A job's workspace if it is still on this machine."""
    path = JobPlace.of_job(root, job_id, spec, client).workspace
    return path if path.is_dir() else None
