"""Across-the-board timezone placement of device times (docs/datetime)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from uploader.errors import UsageError
from uploader.timeproc import AcrossTheBoardTimezone


def test_device_time_in_the_chosen_zone_gives_utc_and_offset() -> None:
    times = AcrossTheBoardTimezone("America/Los_Angeles")
    winter = times.fields(datetime(2026, 1, 15, 8, 30))
    assert winter.time == datetime(2026, 1, 15, 16, 30, tzinfo=UTC)
    assert winter.timezone_offset == -480
    summer = times.fields(datetime(2026, 7, 15, 8, 30))
    assert summer.time == datetime(2026, 7, 15, 15, 30, tzinfo=UTC)
    assert summer.timezone_offset == -420
    assert (summer.clock_drift_offset, summer.conversion_offset) == (0, 0)


def test_the_repeated_hour_at_the_end_of_dst_takes_its_first_occurrence() -> None:
    times = AcrossTheBoardTimezone("Europe/Berlin")
    fields = times.fields(datetime(2026, 10, 25, 2, 30))  # 02:00-03:00 happens twice
    assert fields.time == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert fields.timezone_offset == 120


def test_a_skipped_wall_time_uses_the_offset_before_the_change() -> None:
    times = AcrossTheBoardTimezone("America/New_York")
    fields = times.fields(datetime(2026, 3, 8, 2, 30))  # 02:00-03:00 never happens
    assert fields.time == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert fields.timezone_offset == -300


@pytest.mark.parametrize("name", ["Europe/Lonon", "", "../../etc/passwd"])
def test_unknown_timezones_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError, match="IANA timezone name"):
        AcrossTheBoardTimezone(name)
