"""A job that starts from a git repository: cloned into its fresh workspace, handed back as a patch.

``repo`` is the submitter's, so it never reaches a shell and git gets it only after ``--``; only
``https`` and local paths are cloned (``GIT_ALLOW_PROTOCOL``: no ``ext::``, which runs commands, no
``ssh`` with its options), and only from where the operator allows (``CLAUDE_WORKERS_ALLOWED_REPOS``,
checked in ``policy``).
The result's patch is ``git diff --binary`` from the commit the job started at to everything in the
workspace at the end (commits the agent made, edits, new files), so it applies to ``ref``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from app.errors import JobFailed
from app.jobs.changes import cap

GIT_TIMEOUT_S = 600


def _git(args: list[str], cwd: Path | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd or Path.cwd()),  # no user's git config, no credential helpers
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "https:file",  # file: a local path is cloned over the file protocol
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",
    }
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise JobFailed(f"git {args[0]} failed: {last[:300]}")
    return done.stdout


def clone(repo: str, ref: str | None, workspace: Path) -> str:
    """Clone ``repo`` at ``ref`` into the empty ``workspace``; returns the commit it starts at."""
    _git(["clone", "--quiet", "--no-hardlinks", "--no-checkout", "--", repo, str(workspace)])
    target = ref or "HEAD"
    commit = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{target}^{{commit}}"], workspace).strip()
    if not commit:
        raise JobFailed(f"The repository has no ref {target!r}.")
    _git(["checkout", "--quiet", "--detach", commit], workspace)
    # an identity for commits the agent makes, local to this clone
    _git(["config", "user.name", "claude-workers"], workspace)
    _git(["config", "user.email", "claude-workers@localhost"], workspace)
    return commit


def patch(workspace: Path, base: str, max_bytes: int) -> dict[str, Any]:
    """The result's ``files``, ``diff``, ``base_commit`` and ``commits``, from git."""
    commits = _git(["rev-list", "--reverse", f"{base}..HEAD"], workspace).split()
    _git(["add", "--all"], workspace)
    status = _git(["diff", "--cached", "--name-status", "--no-renames", base], workspace)
    files: dict[str, list[str]] = {"created": [], "changed": [], "deleted": [], "not_diffed": []}
    kinds = {"A": "created", "M": "changed", "D": "deleted", "T": "changed"}
    for line in status.splitlines():
        code, _, path = line.partition("\t")
        files[kinds.get(code[:1], "changed")].append(path)
    diff, truncated = cap(_git(["diff", "--cached", "--binary", base], workspace), max_bytes)
    return {"files": files, "diff": diff, "diff_truncated": truncated, "base_commit": base, "commits": commits}
