"""Logging: one readable line per event on stderr, the level from CLAUDE_WORKERS_LOG_LEVEL or -v."""

from __future__ import annotations

import logging
import os


def configure_logging(verbose: bool = False) -> None:
    level = "DEBUG" if verbose else os.environ.get("CLAUDE_WORKERS_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        force=True,
    )
    # the Anthropic SDK's HTTP client logs every request at INFO
    for noisy in ("httpx", "httpx2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
