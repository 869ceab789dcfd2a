"""A batch file is valid as a whole or refused as a whole, with every bad line named."""

from __future__ import annotations

import json

import pytest

from app.jobs.batch import BatchInvalid, content_id, parse_jsonl


def lines(*rows: object) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"


def test_lines_that_are_not_json_are_named_first() -> None:
    with pytest.raises(BatchInvalid) as caught:
        parse_jsonl(lines({"custom_id": "a", "prompt": "ok"}, "{not json", "[1,"))
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 3"]


def test_every_bad_job_is_named_and_nothing_passes() -> None:
    text = lines(
        {"custom_id": "a", "prompt": "ok"},
        {"custom_id": "a", "prompt": "twice"},
        {"prompt": "no id"},
        {"custom_id": "b", "prompt": "x", "max_turns": 0},
        [1, 2],
    )
    with pytest.raises(BatchInvalid) as caught:
        parse_jsonl(text)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4 (b)", "line 5"]
    assert "twice" in problems[0] and "custom_id" in problems[1] and "max_turns" in problems[2]


def test_blank_lines_are_skipped_and_the_id_follows_the_content() -> None:
    first = parse_jsonl(lines({"custom_id": "a", "prompt": "x"}, "", {"custom_id": "b", "prompt": "y"}))
    assert [i.custom_id for i in first] == ["a", "b"]
    again = parse_jsonl(lines({"custom_id": "a", "prompt": "x"}, {"custom_id": "b", "prompt": "y"}))
    changed = parse_jsonl(lines({"custom_id": "a", "prompt": "x"}, {"custom_id": "b", "prompt": "z"}))
    assert content_id(first) == content_id(again) != content_id(changed)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(BatchInvalid, match="empty"):
        parse_jsonl("\n\n")
