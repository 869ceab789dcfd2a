"""Parse the usage-limit reset time out of the CLI's human text.

The machine-readable epoch only comes in stream-json; this is the fallback for text such as
``You've hit your 5-hour limit · resets 11:45pm (UTC)`` or
``You've hit your weekly limit · resets Dec 2, 11:38pm (Europe/Berlin)``. The CLI drops
``:00`` minutes, and adds the year only when it differs from the current one.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}

_RESET = re.compile(
    r"resets\s+"
    r"(?:(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})(?:,?\s+(?P<year>\d{4}))?,?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.IGNORECASE,
)


def parse_reset_time(text: str, now: datetime | None = None) -> float | None:
    """Epoch seconds of the reset the text names, or None when it names none.

    Without a date the time is the next occurrence of that wall-clock time in its zone.
    A date without a year that already lies more than a day in the past belongs to next
    year (a January reset read in December).
    """
    match = _RESET.search(text)
    if not match:
        return None
    try:
        zone = ZoneInfo((match["tz"] or "UTC").strip())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    hour12, minute = int(match["hour"]), int(match["minute"] or 0)
    if not 1 <= hour12 <= 12 or minute > 59:
        return None
    hour = hour12 % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    local_now = (now or datetime.now(tz=zone)).astimezone(zone)

    if match["month"] is None:
        candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate <= local_now:
            candidate = _same_wall_time_next_day(candidate)
        return candidate.timestamp()

    month = _MONTHS.get(match["month"][:3].lower())
    if month is None:
        return None
    year = int(match["year"]) if match["year"] else local_now.year
    try:
        candidate = datetime(year, month, int(match["day"]), hour, minute, tzinfo=zone)
    except ValueError:
        return None
    if not match["year"] and candidate < local_now - timedelta(days=1):
        try:
            candidate = candidate.replace(year=year + 1)
        except ValueError:  # Feb 29 of a year followed by a common year
            return None
    return candidate.timestamp()


def _same_wall_time_next_day(moment: datetime) -> datetime:
    # add a calendar day, not 24 h, so a DST change keeps the printed wall-clock time
    nxt: date = moment.date() + timedelta(days=1)
    return moment.replace(year=nxt.year, month=nxt.month, day=nxt.day)
