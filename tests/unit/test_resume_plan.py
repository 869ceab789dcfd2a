"""How an attempt starts, for every case the resume rules name."""

from __future__ import annotations

from typing import Any

import pytest

from app.jobs.changes import Photo, compare
from app.jobs.resume import CONTINUE_PROMPT, plan

S1 = "11111111-1111-4111-8111-111111111111"


def start(earlier: list[dict[str, Any]], **kw: Any) -> Any:
    args: dict[str, Any] = {
        "prompt": "do it",
        "given_session": None,
        "resume": True,
        "resume_prompt": None,
        "earlier": earlier,
        "workspace_kept": True,
        "session_kept": lambda session: True,
    }
    return plan(**{**args, **kw})


def test_a_first_attempt_starts_as_submitted() -> None:
    first = start([])
    assert (first.prompt, first.resume_session_id, first.note) == ("do it", None, {})


def test_an_attempt_after_one_cut_off_resumes_its_session() -> None:
    after = start([{"outcome": "quota_exceeded", "session_id": S1}])
    assert (after.prompt, after.resume_session_id, after.note) == (CONTINUE_PROMPT, S1, {"resumed_from": S1})
    assert start([{"outcome": "interrupted", "session_id": S1}], resume_prompt="go on").prompt == "go on"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"resume": False}, "resume is off for this job (resume: false)"),
        ({"workspace_kept": False}, "the workspace of the interrupted attempt is gone"),
        ({"session_kept": lambda session: session != S1}, f"the transcript of session {S1} is gone"),
    ],
)
def test_it_starts_over_and_says_why(change: dict[str, Any], why: str) -> None:
    again = start([{"outcome": "timeout", "session_id": S1}], **change)
    assert (again.prompt, again.resume_session_id, again.note) == ("do it", None, {"fresh_start": why})


def test_a_refused_resume_is_not_tried_twice() -> None:
    earlier = [
        {"outcome": "quota_exceeded", "session_id": S1},
        {"outcome": "error", "session_id": S1, "resumed_from": S1, "message": "No conversation found"},
    ]
    again = start(earlier)
    assert again.resume_session_id is None and "refused" in again.note["fresh_start"]


def test_an_attempt_cut_off_before_the_cli_named_its_session_starts_over_quietly() -> None:
    assert start([{"outcome": "interrupted"}]).note == {}


def test_changes_list_every_file_and_diff_only_text() -> None:
    before = Photo({"a.txt": "1", "b.bin": "2", "gone.txt": "3"}, {"a.txt": "old\n", "gone.txt": "bye\n"})
    after = Photo({"a.txt": "9", "b.bin": "8", "new.txt": "4"}, {"a.txt": "new\n", "new.txt": "hi\n"})
    found = compare(before, after, max_bytes=10_000)
    assert found["files"] == {
        "created": ["new.txt"],
        "changed": ["a.txt", "b.bin"],
        "deleted": ["gone.txt"],
        "not_diffed": ["b.bin"],
    }
    assert "-old\n+new\n" in found["diff"] and "+hi\n" in found["diff"] and "-bye\n" in found["diff"]
    assert found["diff_truncated"] is False
    small = compare(Photo(), Photo({"x.txt": "1"}, {"x.txt": "line\n" * 1000}), max_bytes=100)
    assert small["diff_truncated"] and "CLAUDE_WORKERS_DIFF_MAX_BYTES" in small["diff"]
