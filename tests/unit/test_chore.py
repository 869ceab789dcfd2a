"""A worker's background chore outlives any round that fails, and says so."""

from __future__ import annotations

import time

import pytest
import redis

from app.chore import Chore


class Flaky(Chore):
    name = "flaky"

    def __init__(self) -> None:
        super().__init__(interval=0.01)
        self.rounds = 0

    def round(self) -> None:
        self.rounds += 1
        raise (KeyError("bug") if self.rounds % 2 else redis.ConnectionError("Redis is away"))


def test_a_chore_outlives_failed_rounds_and_logs_a_bug_louder_than_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="app.chore")
    chore = Flaky()
    chore.start()
    try:
        deadline = time.monotonic() + 10
        while chore.rounds < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        chore.stop()
    assert chore.rounds >= 4
    levels = {r.levelname for r in caplog.records if "flaky: this round" in r.getMessage()}
    assert levels == {"WARNING", "DEBUG"}
    assert "flaky: this round broke (KeyError); the next one tries again" in caplog.text
