from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.claude.reset_time import parse_reset_time

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args: int, tz: ZoneInfo | None = None) -> datetime:
    return datetime(*args, tzinfo=tz or UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("You've hit your 5-hour limit · resets 11:45pm (UTC)", at(2026, 11, 28, 21, 0), at(2026, 11, 28, 23, 45)),
        # minutes dropped when :00
        ("You've hit your limit · resets 9pm (UTC)", at(2026, 11, 28, 20, 59), at(2026, 11, 28, 21, 0)),
        # the time already passed today: it is tomorrow's
        ("resets 1am (UTC)", at(2026, 11, 28, 23, 30), at(2026, 11, 29, 1, 0)),
        # across year end, no date
        ("resets 12:15am (UTC)", at(2026, 12, 31, 23, 50), at(2027, 1, 1, 0, 15)),
        # noon and midnight
        ("resets 12pm (UTC)", at(2026, 6, 1, 8, 0), at(2026, 6, 1, 12, 0)),
        ("resets 12am (UTC)", at(2026, 6, 1, 8, 0), at(2026, 6, 2, 0, 0)),
        # another zone
        ("resets 9:48pm (Europe/Berlin)", at(2026, 11, 28, 18, 0), at(2026, 11, 28, 21, 48, tz=BERLIN)),
        # with a date, beyond 24 h
        (
            "You've hit your weekly limit · resets Dec 2, 11:38pm (Europe/Berlin)",
            at(2026, 11, 28, 12, 0),
            at(2026, 12, 2, 23, 38, tz=BERLIN),
        ),
        # a January date read in late December belongs to next year
        ("resets Jan 3, 2:05am (UTC)", at(2026, 12, 30, 10, 0), at(2027, 1, 3, 2, 5)),
        # explicit year
        ("resets Jan 3, 2028, 2am (UTC)", at(2026, 12, 30, 10, 0), at(2028, 1, 3, 2, 0)),
    ],
)
def test_parses_the_cli_forms(text: str, now: datetime, expected: datetime) -> None:
    assert parse_reset_time(text, now=now) == expected.timestamp()


def test_date_earlier_today_stays_this_year() -> None:
    # a reset a few hours ago (clock skew) is not pushed a whole year ahead
    now = at(2026, 11, 28, 23, 0)
    assert parse_reset_time("resets Nov 28, 10pm (UTC)", now=now) == at(2026, 11, 28, 22, 0).timestamp()


def test_no_zone_means_utc() -> None:
    assert parse_reset_time("resets 11pm", now=at(2026, 1, 1, 0, 0)) == at(2026, 1, 1, 23, 0).timestamp()


def test_unknown_zone_falls_back_to_utc() -> None:
    got = parse_reset_time("resets 11pm (Mars/Olympus)", now=at(2026, 1, 1, 0, 0))
    assert got == at(2026, 1, 1, 23, 0).timestamp()


@pytest.mark.parametrize(
    "text", ["", "Not logged in · Please run /login", "resets soon", "resets 13pm (UTC)", "resets Foo 2, 1am (UTC)"]
)
def test_returns_none_without_a_valid_reset(text: str) -> None:
    assert parse_reset_time(text, now=at(2026, 1, 1, 0, 0)) is None
