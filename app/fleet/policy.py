"""When the fleet probes again: pure functions of the current state, the error and the clock.

* ``auth_required`` and ``billing_required``: every ``CLAUDE_AUTH_RETRY_DELAY`` (and at once when
  the credentials change, see ``gate.Gate.credentials_changed``).
* ``quota_exceeded``: at ``resets_at`` plus up to ``CLAUDE_QUOTA_RESET_JITTER`` seconds when the
  reset time is known, however far away (a weekly limit is not cut to 4 h); otherwise the
  ladder ``CLAUDE_QUOTA_RETRY_DELAY × CLAUDE_QUOTA_BACKOFF_MULTIPLIER^step`` capped at
  ``CLAUDE_QUOTA_MAX_DELAY`` (1 h, 1.5 h, 2.25 h, … 4 h).
* ``budget_exceeded`` (the fleet's own spending cap): when the capped period turns, or at once
  when a waiting worker finds the cap raised (``cap_lifted``).
* ``rate_limited`` / ``overloaded``: a short doubling backoff that never waits less than the
  server's ``retry-after``, capped at ``CLAUDE_SHORT_BACKOFF_MAX``.

Transitions are extend-only: a failure never brings the next probe closer. Only a probe, or
an attempt that started after the gate closed, can open it or move it to its next step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from app.errors import FleetBlockingError, FleetBudgetExceeded, UsageLimitReached
from app.fleet.state import READY, FleetState
from app.settings import Settings
from app.states import State

#: a known reset time this close or already past is treated as unknown-but-imminent
_PAST_RESET_GRACE_S = 5.0


@dataclass(frozen=True)
class Timing:
    """The gate's delays, taken from ``Settings`` (where each default is set and explained)."""

    auth_delay: float
    quota_delay: float
    quota_multiplier: float
    quota_max_delay: float
    reset_jitter: float
    rate_limit_delay: float
    overloaded_delay: float
    short_backoff_max: float

    @classmethod
    def from_settings(cls, s: Settings) -> Timing:
        return cls(
            auth_delay=s.claude_auth_retry_delay,
            quota_delay=s.claude_quota_retry_delay,
            quota_multiplier=s.claude_quota_backoff_multiplier,
            quota_max_delay=s.claude_quota_max_delay,
            reset_jitter=s.claude_quota_reset_jitter,
            rate_limit_delay=s.claude_rate_limit_delay,
            overloaded_delay=s.claude_overloaded_delay,
            short_backoff_max=s.claude_short_backoff_max,
        )


def quota_ladder(step: int, timing: Timing) -> float:
    return float(min(timing.quota_delay * timing.quota_multiplier**step, timing.quota_max_delay))


def next_probe_at(error: FleetBlockingError, step: int, now: float, timing: Timing, rng: random.Random) -> float:
    """Epoch seconds of the next probe after ``error`` at backoff ``step``."""
    state = error.state
    if State(state).needs_a_login:
        return now + timing.auth_delay
    if isinstance(error, FleetBudgetExceeded):
        return max(error.renews_at, now)
    if state == State.QUOTA_EXCEEDED:
        resets_at = error.resets_at if isinstance(error, UsageLimitReached) else None
        # a reset that is (nearly) now but still refused gets the ladder instead of a busy loop
        known = resets_at is not None and resets_at > now - _PAST_RESET_GRACE_S
        if known and resets_at is not None and (resets_at > now + 1 or step == 0):
            return max(resets_at, now) + rng.uniform(0, timing.reset_jitter)
        return now + quota_ladder(step, timing)
    base = timing.overloaded_delay if state == State.OVERLOADED else timing.rate_limit_delay
    delay = min(base * 2.0**step, timing.short_backoff_max)
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, timing.short_backoff_max))
    return now + delay


def on_failure(
    current: FleetState,
    error: FleetBlockingError,
    *,
    now: float,
    attempt_started_at: float,
    probe: bool,
    timing: Timing,
    rng: random.Random | None = None,
) -> FleetState | None:
    """The state after a run that ended in ``error``, or None when nothing changes."""
    rng = rng or random.Random()
    informative = probe or current.is_open or current.since is None or attempt_started_at >= current.since
    same_outage = not current.is_open and current.state == error.state
    step = current.step + 1 if (same_outage and informative) else (current.step if same_outage else 0)
    until = next_probe_at(error, step, now, timing, rng)
    if not current.is_open and current.until is not None and until <= current.until and not probe:
        return None  # extend-only: an older, in-flight failure never brings the probe closer
    resets_at = error.resets_at if isinstance(error, UsageLimitReached) else None
    limit_type = error.limit_type if isinstance(error, UsageLimitReached) else None
    return replace(
        current,
        last_probe_at=now if probe else current.last_probe_at,
        last_probe_outcome=error.state if probe else current.last_probe_outcome,
        state=error.state,
        until=until,
        reason=error.message[:500],
        since=current.since if same_outage else now,
        step=step,
        resets_at=resets_at,
        limit_type=limit_type,
        last_failure_at=now,
        last_failure=error.state,
        updated_at=now,
    )


def on_success(current: FleetState, *, now: float, attempt_started_at: float, probe: bool) -> FleetState | None:
    """The state after a successful run, or None when nothing changes.

    A success opens a closed gate only when it proves something: a probe, or a run that
    started after the gate closed. An old in-flight run finishing proves nothing.
    """
    if current.is_open:
        return replace(current, last_success_at=now, updated_at=now)
    if not (probe or (current.since is not None and attempt_started_at >= current.since)):
        return None
    return FleetState(
        state=READY,
        since=now,
        last_probe_at=now if probe else current.last_probe_at,
        last_probe_outcome=READY if probe else current.last_probe_outcome,
        last_success_at=now,
        last_failure_at=current.last_failure_at,
        last_failure=current.last_failure,
        updated_at=now,
    )


def _probe_now(current: FleetState, *, now: float, closed_by: bool) -> FleetState | None:
    """A probe due at once, if the gate was ``closed_by`` what may be fixed and the probe is not due already."""
    if not closed_by or (current.until is not None and current.until <= now):
        return None
    return replace(current, until=now, updated_at=now)


def credentials_changed(current: FleetState, *, now: float) -> FleetState | None:
    """New credentials make an auth or billing probe due at once."""
    return _probe_now(current, now=now, closed_by=State(current.state).needs_a_login)


def cap_lifted(current: FleetState, *, now: float) -> FleetState | None:
    """The fleet's spending cap was raised: a probe is due at once."""
    return _probe_now(current, now=now, closed_by=current.state == State.BUDGET_EXCEEDED)
