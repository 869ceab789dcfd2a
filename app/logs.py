"""Logging: one readable line per event on stderr, the level from CLAUDE_WORKERS_LOG_LEVEL or -v."""

from __future__ import annotations

import logging
import os
import re

#: control characters (newline included) that a log line must never carry raw: a prompt with
#: ESC sequences or a forged newline would repaint a terminal or fake a log line
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class SafeFormatter(logging.Formatter):
    """One line per event: control characters in the message are escaped (tracebacks stay as they are)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure_logging(verbose: bool = False) -> None:
    level = "DEBUG" if verbose else os.environ.get("CLAUDE_WORKERS_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        handlers=[handler],
        force=True,
    )
    # the Anthropic SDK's HTTP client logs every request at INFO
    for noisy in ("httpx", "httpx2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
