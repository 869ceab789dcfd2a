"""What happens to a failed attempt, for every kind of error: the pure decision, without Redis."""

from __future__ import annotations

import pytest

from app.errors import (
    AuthRequired,
    BillingRequired,
    BudgetExhausted,
    ClaudeError,
    ClaudeServerError,
    ClaudeTimeout,
    InvalidRequest,
    MaxTurnsReached,
    Overloaded,
    RateLimited,
    UsageLimitReached,
)
from app.fleet.decision import Fate, decide
from app.settings import Settings

S = Settings.model_construct()  # the real defaults: auth 288, quota 12, job 3 retries, delays 10,60,300

CASES: list[tuple[ClaudeError, dict[str, int], bool, Fate, str | None, int, bool, int]] = [
    # error, spent before, probe -> fate, budget, spent after, front, delay
    (AuthRequired("x"), {}, False, Fate.WAIT, "auth", 1, True, 0),
    (AuthRequired("x"), {}, True, Fate.WAIT, "auth", 1, False, 0),  # a failed probe goes to the back
    (BillingRequired("x"), {"auth": 286}, False, Fate.WAIT, "auth", 287, True, 0),
    (BillingRequired("x"), {"auth": 287}, False, Fate.FAIL, "auth", 288, False, 0),
    (UsageLimitReached("x"), {"auth": 5}, False, Fate.WAIT, "quota", 1, True, 0),
    (UsageLimitReached("x"), {"quota": 11}, True, Fate.FAIL, "quota", 12, False, 0),
    (RateLimited("x"), {}, False, Fate.WAIT, "job", 1, True, 0),
    (Overloaded("x"), {"job": 3}, False, Fate.FAIL, "job", 4, False, 0),
    (ClaudeServerError("x"), {}, False, Fate.RETRY, "job", 1, False, 10),
    (ClaudeTimeout("x"), {"job": 1}, False, Fate.RETRY, "job", 2, False, 60),
    (ClaudeServerError("x"), {"job": 2}, False, Fate.RETRY, "job", 3, False, 300),
    (ClaudeServerError("x"), {"job": 3}, False, Fate.FAIL, "job", 4, False, 0),
    (MaxTurnsReached("x"), {}, False, Fate.FAIL, None, 0, False, 0),
    (BudgetExhausted("x"), {"job": 2}, False, Fate.FAIL, None, 0, False, 0),
    (InvalidRequest("x"), {}, True, Fate.FAIL, None, 0, False, 0),
]


@pytest.mark.parametrize(("error", "before", "probe", "fate", "budget", "after", "front", "delay"), CASES)
def test_every_error_has_its_fate(
    error: ClaudeError,
    before: dict[str, int],
    probe: bool,
    fate: Fate,
    budget: str | None,
    after: int,
    front: bool,
    delay: int,
) -> None:
    decision = decide(error, before, S, probe=probe)
    assert (decision.fate, decision.budget, decision.spent, decision.front, decision.delay) == (
        fate,
        budget,
        after,
        front,
        delay,
    )
    if fate is Fate.FAIL:
        assert decision.reason


def test_the_reason_says_how_the_attempts_ended() -> None:
    assert decide(UsageLimitReached("x"), {"quota": 11}, S, probe=False).reason == (
        "12 attempts ended in quota_exceeded (limit 12)"
    )
    assert decide(ClaudeServerError("x"), {"job": 3}, S, probe=False).reason == "4 attempts failed (limit 4)"
    assert "as it is specified" in decide(MaxTurnsReached("x"), {}, S, probe=False).reason


def test_the_last_retry_delay_repeats() -> None:
    settings = Settings.model_construct(claude_job_retry_delays="5", claude_job_max_retries=9)
    assert [decide(ClaudeServerError("x"), {"job": n}, settings, probe=False).delay for n in range(4)] == [5] * 4
