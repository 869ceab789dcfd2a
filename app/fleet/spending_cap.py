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
    spent = stats.spend(conn, keys.spend_by_day, zone, moment)
    if daily is not None and spent["today_usd"] >= daily:
        turns = stats.next_day(moment)
        return FleetBudgetExceeded(
            f"The fleet spent ${spent['today_usd']:.4f} today, its daily cap of ${daily:g} "
            f"(CLAUDE_FLEET_DAILY_BUDGET_USD); jobs resume at {turns.isoformat(timespec='minutes')}.",
            renews_at=turns.timestamp(),
        )
    if monthly is not None and spent["this_month_usd"] >= monthly:
        turns = stats.next_month(moment)
        return FleetBudgetExceeded(
            f"The fleet spent ${spent['this_month_usd']:.4f} this month, its monthly cap of ${monthly:g} "
            f"(CLAUDE_FLEET_MONTHLY_BUDGET_USD); jobs resume at {turns.isoformat(timespec='minutes')}.",
            renews_at=turns.timestamp(),
        )
    return None
