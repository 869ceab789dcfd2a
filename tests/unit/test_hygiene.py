"""Logs carry no raw control characters; kept session transcripts are bounded in age and number."""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from app.claude.run_place import SESSIONS_DIR, prune_sessions
from app.logs import SafeFormatter, escape_controls
from app.settings import Settings


def test_a_prompt_cannot_forge_log_lines_or_repaint_the_terminal() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test.hygiene")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("job %s: %s", "abc", "hi\nCRITICAL forged line\x1b[2J\x00\x9b")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert out.count("\n") == 1 and "\x1b" not in out and "\x00" not in out and "\x9b" not in out
    assert "\\n" in out and "\\x1b" in out
    assert escape_controls("tab\there") == "tab\\there"


def test_kept_sessions_are_pruned_by_age(make_settings: Callable[..., Settings], isolated_env: Path) -> None:
    settings = make_settings(claude_session_retention=3600)
    base = isolated_env / SESSIONS_DIR
    for name, age in (("old", 7200), ("new", 60)):
        (base / name / "projects").mkdir(parents=True)
        os.utime(base / name, (time.time() - age, time.time() - age))
    assert prune_sessions(settings) == 1
    assert sorted(p.name for p in base.iterdir()) == ["new"]
