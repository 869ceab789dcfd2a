"""The gate's timing and transitions, as pure functions of state, error and clock."""

import random

import pytest

from app.errors import AuthRequired, BillingRequired, Overloaded, RateLimited, UsageLimitReached
from app.fleet.policy import Timing, credentials_changed, next_probe_at, on_failure, on_success, quota_ladder
from app.fleet.state import FleetState
from app.settings import Settings

T = Timing.from_settings(Settings.model_construct())  # the real defaults, not a copy
NOW = 1_800_000_000.0
RNG = random.Random(7)


def test_quota_ladder_is_the_guides() -> None:
    assert [quota_ladder(s, T) / 3600 for s in range(6)] == [1.0, 1.5, 2.25, 3.375, 4.0, 4.0]


def test_known_reset_is_used_with_at_most_the_jitter() -> None:
    resets = NOW + 900
    for _ in range(50):
        at = next_probe_at(UsageLimitReached("x", resets_at=resets), 0, NOW, T, RNG)
        assert resets <= at <= resets + T.reset_jitter
    assert T.reset_jitter <= 5


def test_weekly_reset_is_not_cut_to_four_hours() -> None:
    resets = NOW + 5 * 86400
    at = next_probe_at(UsageLimitReached("x", resets_at=resets, limit_type="seven_day"), 3, NOW, T, RNG)
    assert at >= resets


def test_unknown_or_stale_reset_uses_the_ladder() -> None:
    assert next_probe_at(UsageLimitReached("x"), 2, NOW, T, RNG) == NOW + 8100
    # refused again right at a reset it already waited for: the ladder, not a busy loop
    assert next_probe_at(UsageLimitReached("x", resets_at=NOW), 1, NOW, T, RNG) == NOW + 5400


def test_auth_and_billing_probe_at_the_auth_interval() -> None:
    assert next_probe_at(AuthRequired("x"), 5, NOW, T, RNG) == NOW + 300
    assert next_probe_at(BillingRequired("x"), 0, NOW, T, RNG) == NOW + 300


def test_short_backoff_doubles_honours_retry_after_and_caps() -> None:
    assert next_probe_at(RateLimited("x"), 0, NOW, T, RNG) == NOW + 30
    assert next_probe_at(RateLimited("x"), 2, NOW, T, RNG) == NOW + 120
    assert next_probe_at(RateLimited("x", retry_after=90), 0, NOW, T, RNG) == NOW + 90
    assert next_probe_at(Overloaded("x"), 0, NOW, T, RNG) == NOW + 15
    assert next_probe_at(Overloaded("x"), 20, NOW, T, RNG) == NOW + T.short_backoff_max


def closed(
    state: str = "quota_exceeded", until: float = NOW + 3600, since: float = NOW - 10, step: int = 0
) -> FleetState:
    return FleetState(state=state, until=until, since=since, step=step)


def test_first_failure_closes_the_gate() -> None:
    new = on_failure(FleetState(), AuthRequired("no"), now=NOW, attempt_started_at=NOW - 1, probe=False, timing=T)
    assert new is not None
    assert (new.state, new.until, new.step, new.since) == ("auth_required", NOW + 300, 0, NOW)


def test_in_flight_failure_never_shortens_the_wait() -> None:
    current = closed(until=NOW + 3600)
    assert on_failure(current, AuthRequired("x"), now=NOW, attempt_started_at=NOW - 60, probe=False, timing=T) is None


def test_in_flight_failure_can_extend_the_wait() -> None:
    current = closed(state="rate_limited", until=NOW + 30)
    err = UsageLimitReached("x", resets_at=NOW + 7200)
    new = on_failure(current, err, now=NOW, attempt_started_at=NOW - 60, probe=False, timing=T, rng=RNG)
    assert new is not None and new.state == "quota_exceeded" and new.until >= NOW + 7200
    assert new.step == 0 and new.since == NOW


def test_probe_failure_moves_to_the_next_step() -> None:
    current = closed(until=NOW - 1, step=1)
    new = on_failure(current, UsageLimitReached("x"), now=NOW, attempt_started_at=NOW, probe=True, timing=T)
    assert new is not None
    assert (new.step, new.until, new.since, new.last_probe_outcome) == (2, NOW + 8100, current.since, "quota_exceeded")


def test_only_a_probe_or_a_later_run_opens_the_gate() -> None:
    current = closed(since=NOW - 10)
    assert on_success(current, now=NOW, attempt_started_at=NOW - 20, probe=False) is None
    opened = on_success(current, now=NOW, attempt_started_at=NOW - 20, probe=True)
    assert opened is not None and opened.is_open and opened.last_probe_outcome == "ready"
    later = on_success(current, now=NOW, attempt_started_at=NOW - 5, probe=False)
    assert later is not None and later.is_open


def test_credentials_change_makes_an_auth_probe_due_now() -> None:
    new = credentials_changed(closed(state="auth_required", until=NOW + 300), now=NOW)
    assert new is not None and new.until == NOW
    assert credentials_changed(closed(state="quota_exceeded"), now=NOW) is None
    assert credentials_changed(FleetState(), now=NOW) is None


@pytest.mark.parametrize("state", ["ready", "auth_required", "quota_exceeded"])
def test_state_round_trips_through_redis_fields(state: str) -> None:
    original = FleetState(
        state=state, until=NOW, reason="r", since=NOW - 1, step=3, resets_at=NOW + 5, limit_type="five_hour"
    )
    assert FleetState.from_redis({k.encode(): v.encode() for k, v in original.to_redis().items()}) == original
