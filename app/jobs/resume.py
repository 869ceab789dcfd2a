"""How an attempt starts: continue the session an earlier attempt left unfinished, or start over.

A pure function of the job's attempts and what is still on disk, so every case has a unit test.
An attempt that ends without a result (a fleet-blocking error, a timeout, a crash, a SIGKILL, a
shutdown) leaves its session id in its attempt record and its workspace in place; the next
attempt resumes that session there with a short continuation prompt. It starts over, and says
why in its own record, when the job turned resuming off, when the workspace or the session's
transcript is gone, or when the CLI refused the resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONTINUE_PROMPT = (
    "You were interrupted before you finished (a usage limit, a restart or a timeout), and this session "
    "has been resumed. The files in the working directory are as you left them. Continue the task from "
    "where you stopped, without redoing finished steps, and end with the answer the task asks for."
)


@dataclass(frozen=True)
class Start:
    prompt: str
    resume_session_id: str | None
    note: dict[str, Any]  # what the attempt record says about how it started (empty: a first start)


def plan(
    *,
    prompt: str,
    given_session: str | None,
    resume: bool,
    resume_prompt: str | None,
    earlier: list[dict[str, Any]],
    workspace_kept: bool,
    session_kept: Callable[[str], bool],
) -> Start:
    """How the attempt after ``earlier`` (the job's previous attempts, oldest first) starts;
    ``session_kept`` says whether a session's transcript is still there."""
    fresh = Start(prompt, given_session, {})
    left = next((a for a in reversed(earlier) if a.get("session_id")), None)
    if left is None:
        return fresh
    session = str(left["session_id"])
    last = earlier[-1]
    why = None
    if not resume:
        why = "resume is off for this job (resume: false)"
    elif last.get("resumed_from") == session and last.get("outcome") == "error":
        why = f"the CLI refused to resume session {session}: {last.get('message') or 'no reason given'}"
    elif not workspace_kept:
        why = "the workspace of the interrupted attempt is gone"
    elif not session_kept(session):
        why = f"the transcript of session {session} is gone"
    if why is not None:
        return Start(prompt, given_session, {"fresh_start": why})
    return Start(resume_prompt or CONTINUE_PROMPT, session, {"resumed_from": session})
