"""Watch schedules: ``--every`` and ``--daily`` parsing, and when the next run is due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from uploader.errors import UsageError
from uploader.schedule import Schedule, parse_daily, parse_every


def test_every_accepts_seconds_minutes_hours_and_refuses_the_rest() -> None:
    assert parse_every("5m") == timedelta(minutes=5)
    assert parse_every("1h30m") == timedelta(minutes=90)
    assert parse_every("45s") == timedelta(seconds=45)
    for bad in ("", "5", "m5", "5 minutes", "1d", "-5m"):
        with pytest.raises(UsageError, match="30s, 5m, 1h"):
            parse_every(bad)
    with pytest.raises(UsageError, match="too often"):
        parse_every("5s")


def test_daily_is_a_24_hour_time() -> None:
    assert parse_daily("07:30") == time(7, 30)
    assert parse_daily("0:05") == time(0, 5)
    for bad in ("24:00", "7.30", "07:60", "noon"):
        with pytest.raises(UsageError, match="HH:MM"):
            parse_daily(bad)


def test_every_counts_from_the_last_scheduled_run_without_drift() -> None:
    start = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
    hourly = Schedule(every=timedelta(hours=1))
    first = hourly.next_after(start)
    assert first == start + timedelta(hours=1)
    late = first + timedelta(minutes=7)  # the poll that noticed it came a bit late
    assert hourly.next_after(late, last=first) == start + timedelta(hours=2)
    assert hourly.next_after(start + timedelta(hours=5, minutes=1), last=first) == start + (
        timedelta(hours=6)
    )


def test_daily_is_local_time_across_the_spring_forward() -> None:
    daily = Schedule(daily=time(7, 30), timezone="America/New_York")
    before_dst = datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # 08:00 EST, past 07:30
    assert daily.next_after(before_dst) == datetime(2026, 3, 8, 11, 30, tzinfo=UTC)  # 07:30 EDT
    morning = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # 06:00 EDT
    assert daily.next_after(morning) == datetime(2026, 3, 9, 11, 30, tzinfo=UTC)


def test_both_schedules_take_the_earlier_and_none_means_only_on_appearance() -> None:
    now = datetime(2026, 3, 15, 7, 0, tzinfo=UTC)
    both = Schedule(every=timedelta(hours=2), daily=time(8, 0), timezone="UTC")
    assert both.next_after(now) == datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
    assert both.describe() == "every 2h and daily at 08:00 (UTC)"
    assert Schedule().next_after(now) is None and not Schedule().active
