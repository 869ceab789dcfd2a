"""A worker's background chore: a daemon thread that does one thing every few seconds, for good.

A chore's thread must outlive anything one round can throw: a dead webhook thread would leave
every webhook unsent, a dead sweeper would let the volume fill up. So a failed round is logged
(quietly when Redis or the disk is away, which the next round may find back) and the next one
runs on time.
"""

from __future__ import annotations

import logging
import threading

import redis

log = logging.getLogger("app.chore")


class Chore:
    """Subclasses say what one round does (``round``), and their name for logs and the thread."""

    name = "chore"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()

    def round(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        threading.Thread(target=self.run, name=self.name, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except (redis.RedisError, OSError) as exc:
                log.debug("%s: this round failed (%s); the next one tries again", self.name, exc)
            except Exception as exc:
                log.warning("%s: this round broke (%s); the next one tries again", self.name, type(exc).__name__)
            self._stop.wait(self.interval)
