"""The fleet's own spending cap: past ``CLAUDE_FLEET_DAILY_BUDGET_USD`` (or ``_MONTHLY_``) the gate
closes as ``budget_exceeded`` until the period turns, exactly as a usage limit closes it until its
reset. Jobs already running finish; queued ones wait without spending an attempt.
"""

from __future__ import annotations

from datetime import datetime

from redis import Redis

from app.errors import FleetBudgetExceeded
from app.fleet import stats
from app.fleet.keys import Keys
from app.settings import Settings


def over(conn: Redis, keys: Keys, settings: Settings, now: datetime | None = None) -> FleetBudgetExceeded | None:
    """The error to close the gate with when a cap is spent; None when there is no cap or room is left."""
    daily, monthly = settings.claude_fleet_daily_budget_usd, settings.claude_fleet_monthly_budget_usd
    if daily is None and monthly is None:
        return None
    zone = settings.timezone
    moment = (now or datetime.now(zone)).astimezone(zone)
    found = stats.overspent(stats.spend(conn, keys.spend_by_day, zone, moment), daily, monthly, moment)
    if found is None:
        return None
    when = "today" if found.period == "daily" else "this month"
    resume = found.renews.isoformat(timespec="minutes")
    return FleetBudgetExceeded(
        f"The fleet spent ${found.spent:.4f} {when}, its {found.period} cap of ${found.budget:g} "
        f"(CLAUDE_FLEET_{found.period.upper()}_BUDGET_USD); jobs resume at {resume}.",
        renews_at=found.renews.timestamp(),
    )
