"""What each value passed to the Claude CLI may look like.

Every option value reaches the CLI as one ``--name=value`` argv element, so none can be read as
a flag of its own; these grammars add that a value is of its kind (a session id is a UUID, a
model a model name, a tool a tool rule), so nothing but data ever gets that far.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: `claude --resume` takes the session id the CLI printed: a UUID
SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: aliases (sonnet, opus) and full names (claude-opus-5-5, claude-3-7-sonnet-20250219, opus[1m])
MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\[\]-]{0,99}$")
#: a tool or a permission rule: Read, mcp__server__tool, Bash(git diff:*), WebFetch(domain:x.org)
TOOL = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}(\([^()\x00-\x1f\x7f]{1,500}\))?$")
#: how deep a job's free-form JSON (metadata, json_schema) may nest
MAX_JSON_DEPTH = 20


def check_session_id(value: str) -> str:
    if not SESSION_ID.match(value):
        raise ValueError("must be a session id as the CLI prints it (a lower-case UUID)")
    return value


def check_model(value: str) -> str:
    if not MODEL.match(value):
        raise ValueError("must be a model name or alias (letters, digits and . _ : @ [ ] -), e.g. sonnet")
    return value


def check_tool(value: str) -> str:
    if not TOOL.match(value):
        raise ValueError(f"{value[:60]!r} is not a tool name or rule, e.g. Read, Bash(git diff:*), mcp__server__tool")
    return value


def check_text(value: str) -> str:
    """Text that can be stored, shown and passed on: no NUL byte, no unpaired surrogate."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (not valid Unicode text)") from None
    return value


def check_json(value: Any, depth: int = 0) -> Any:
    """Free-form JSON that survives a round trip: finite numbers, clean text, bounded nesting."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("contains a number that is not finite (NaN or Infinity)")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            check_json(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, depth + 1)
    return value
