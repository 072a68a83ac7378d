"""Bootstrapping to UTC (uploader.time_bootstrap) against the rules of docs/datetime/btutc.

Every expected value is worked out by hand in the test from the rules: follow the device's
clock changes backwards from the offsets in force at upload; a change under 15 minutes is
clock drift, a larger one a timezone change rounded to 30 minutes (remainder: drift), one
beyond 1560 minutes a conversion offset; time = deviceTime - timezoneOffset - conversionOffset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mock_cloud.validation import validate_chunk
from uploader.normalize import normalize
from uploader.records import BgReading, DeviceData, DeviceIdentity, DeviceTimeChange
from uploader.time_bootstrap import UtcBootstrapping, classify, time_processor
from uploader.timeproc import AcrossTheBoardTimezone

MINUTE_MS = 60_000


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def placed(
    times: UtcBootstrapping, device_time: datetime, index: int | None
) -> tuple[datetime, int, int, int]:
    f = times.fields(device_time, index)
    return f.time, f.timezone_offset, f.clock_drift_offset, f.conversion_offset


def test_dst_forward_the_hour_before_the_change_is_standard_time() -> None:
    spring = DeviceTimeChange(
        datetime(2026, 3, 8, 2, 0, 30), datetime(2026, 3, 8, 3, 0, 30), index=10, agent="automatic"
    )
    times = UtcBootstrapping(
        "America/New_York",
        [spring],
        most_recent=datetime(2026, 3, 9, 12, 0),
        device_clock=datetime(2026, 3, 10, 13, 0),
        computer_clock=utc(2026, 3, 10, 17, 0),  # 13:00 EDT: the device clock is right
    )
    # At upload: EDT, -240. Before the +60 min change: -300 (EST).
    assert placed(times, datetime(2026, 3, 9, 12, 0), 15) == (utc(2026, 3, 9, 16), -240, 0, 0)
    assert placed(times, datetime(2026, 3, 7, 12, 0), 5) == (utc(2026, 3, 7, 17), -300, 0, 0)
    change = times.change_fields(spring)
    assert (change.time, change.timezone_offset) == (utc(2026, 3, 8, 7, 0, 30), -240)


def test_dst_back_tells_the_two_half_past_ones_apart_by_event_order() -> None:
    autumn = DeviceTimeChange(datetime(2026, 11, 1, 2, 0), datetime(2026, 11, 1, 1, 0), index=10)
    times = UtcBootstrapping(
        "America/New_York",
        [autumn],
        most_recent=datetime(2026, 11, 1, 1, 30),
        device_clock=datetime(2026, 11, 2, 10, 0),
        computer_clock=utc(2026, 11, 2, 15, 0),  # 10:00 EST
    )
    half_past_one = datetime(2026, 11, 1, 1, 30)
    # First 01:30 (before the -60 min change): EDT, -240 -> 05:30Z; second: EST -> 06:30Z.
    assert placed(times, half_past_one, 8) == (utc(2026, 11, 1, 5, 30), -240, 0, 0)
    assert placed(times, half_past_one, 12) == (utc(2026, 11, 1, 6, 30), -300, 0, 0)


def test_travel_out_and_back() -> None:
    west = DeviceTimeChange(datetime(2026, 6, 1, 9, 0), datetime(2026, 6, 1, 6, 0), index=10)
    east = DeviceTimeChange(datetime(2026, 6, 10, 18, 0), datetime(2026, 6, 10, 21, 0), index=20)
    times = UtcBootstrapping(
        "America/New_York",
        [east, west],  # any order: the index sorts them
        most_recent=datetime(2026, 6, 12, 10, 0),
        device_clock=datetime(2026, 6, 15, 12, 0),
        computer_clock=utc(2026, 6, 15, 16, 0),  # 12:00 EDT
    )
    # -240 now; before +180 (flying east): -420 (Los Angeles); before -180: -240 again.
    assert placed(times, datetime(2026, 6, 12, 10, 0), 25) == (utc(2026, 6, 12, 14), -240, 0, 0)
    assert placed(times, datetime(2026, 6, 5, 10, 0), 15) == (utc(2026, 6, 5, 17), -420, 0, 0)
    assert placed(times, datetime(2026, 6, 1, 8, 0), 5) == (utc(2026, 6, 1, 12), -240, 0, 0)


def test_small_corrections_are_clock_drift_and_do_not_move_time() -> None:
    slow = DeviceTimeChange(datetime(2026, 1, 10, 8, 5), datetime(2026, 1, 10, 8, 0), index=10)
    fast = DeviceTimeChange(datetime(2026, 1, 20, 9, 0), datetime(2026, 1, 20, 9, 3, 30), index=20)
    times = UtcBootstrapping(
        "Europe/Berlin",
        [slow, fast],
        most_recent=datetime(2026, 1, 24, 10, 0),
        device_clock=datetime(2026, 1, 25, 12, 0),
        computer_clock=utc(2026, 1, 25, 11, 0),  # 12:00 CET
    )
    ten = datetime(2026, 1, 15, 10, 0)
    # Before +3.5 min: drift -210 s; before -5 min: -210 + 300 = +90 s. Zone stays +60.
    assert placed(times, ten, 15) == (utc(2026, 1, 15, 9), 60, -210_000, 0)
    assert placed(times, ten.replace(day=5), 5) == (utc(2026, 1, 5, 9), 60, 90_000, 0)
    assert placed(times, ten.replace(day=24), 25) == (utc(2026, 1, 24, 9), 60, 0, 0)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (14.99, (0, 899_400, 0)),  # under 15 min: all drift
        (15, (30, -15 * MINUTE_MS, 0)),  # 15 min rounds to a 30 min zone change
        (-44, (-30, -14 * MINUTE_MS, 0)),
        (-45, (-60, 15 * MINUTE_MS, 0)),  # halves round away from zero
        (1560, (1560, 0, 0)),  # the widest travel
        (1567, (1560, 7 * MINUTE_MS, 0)),  # 1560 at 15 min steps: still travel
        (1568, (0, 0, 1568 * MINUTE_MS)),  # 1575 at 15 min steps: conversion, unrounded
        (-365 * 1440, (0, 0, -365 * 1440 * MINUTE_MS)),
    ],
)
def test_classification_of_a_clock_change(minutes: float, expected: tuple[int, int, int]) -> None:
    assert classify(timedelta(minutes=minutes)) == expected


def test_records_made_after_a_change_with_earlier_device_times_take_the_new_offsets() -> None:
    to_chicago = DeviceTimeChange(datetime(2026, 4, 10, 12, 0), datetime(2026, 4, 10, 11, 0), 10)
    times = UtcBootstrapping(
        "America/Chicago",
        [to_chicago],
        most_recent=datetime(2026, 4, 10, 11, 30),
        device_clock=datetime(2026, 4, 12, 9, 0),
        computer_clock=utc(2026, 4, 12, 14, 0),  # 09:00 CDT
    )
    half_past_eleven = datetime(2026, 4, 10, 11, 30)
    assert placed(times, half_past_eleven, 9) == (utc(2026, 4, 10, 15, 30), -240, 0, 0)
    assert placed(times, half_past_eleven, 11) == (utc(2026, 4, 10, 16, 30), -300, 0, 0)
    # Backfilled: stored after the change, its device time a day before it.
    backfilled = datetime(2026, 4, 9, 20, 0)
    assert placed(times, backfilled, 12) == (utc(2026, 4, 10, 1, 0), -300, 0, 0)
    # Without an index a record is placed by its device time: after the change if not
    # earlier than the time the change set (11:00).
    assert placed(times, half_past_eleven, None)[1] == -300
    assert placed(times, datetime(2026, 4, 10, 10, 45), None)[1] == -240


def test_travel_with_a_sloppy_setting_and_drift_corrections_mixed() -> None:
    flight = DeviceTimeChange(datetime(2026, 5, 1, 10, 0), datetime(2026, 5, 1, 17, 2), index=10)
    tweak = DeviceTimeChange(datetime(2026, 5, 5, 8, 0), datetime(2026, 5, 5, 8, 4, 10), index=20)
    times = UtcBootstrapping(
        "Asia/Tokyo",
        [flight, tweak],
        most_recent=datetime(2026, 5, 8, 9, 0),
        device_clock=datetime(2026, 5, 10, 12, 0),
        computer_clock=utc(2026, 5, 10, 3, 0),  # 12:00 JST
    )
    # Before the +250 s tweak: +540, drift -250 s. The flight, +422 min: zone +420 and
    # drift +2 min, so before it: +120 and -250 s - 120 s = -370 s.
    assert placed(times, datetime(2026, 5, 8, 9, 0), 25) == (utc(2026, 5, 8, 0), 540, 0, 0)
    assert placed(times, datetime(2026, 5, 3, 9, 0), 15) == (utc(2026, 5, 3, 0), 540, -250_000, 0)
    assert placed(times, datetime(2026, 5, 1, 9, 0), 5) == (utc(2026, 5, 1, 7), 120, -370_000, 0)


def test_a_device_clock_a_few_minutes_fast_at_upload_starts_the_drift() -> None:
    spring = DeviceTimeChange(datetime(2026, 3, 8, 2, 0), datetime(2026, 3, 8, 3, 0), index=10)
    times = UtcBootstrapping(
        "America/New_York",
        [spring],
        most_recent=datetime(2026, 3, 9, 12, 0),
        device_clock=datetime(2026, 3, 10, 13, 6),  # 6 minutes fast
        computer_clock=utc(2026, 3, 10, 17, 0),
    )
    assert placed(times, datetime(2026, 3, 9, 12, 0), 15) == (utc(2026, 3, 9, 16), -240, 360_000, 0)
    assert placed(times, datetime(2026, 3, 7, 12, 0), 5) == (utc(2026, 3, 7, 17), -300, 360_000, 0)


def test_a_device_set_to_the_wrong_year_is_placed_at_the_true_time() -> None:
    spring = DeviceTimeChange(datetime(2025, 3, 8, 2, 0), datetime(2025, 3, 8, 3, 0), index=10)
    times = UtcBootstrapping(
        "America/New_York",
        [spring],
        most_recent=datetime(2025, 3, 9, 12, 0),
        device_clock=datetime(2025, 3, 10, 13, 0),  # a year behind
        computer_clock=utc(2026, 3, 10, 17, 0),
    )
    year_ms = -365 * 24 * 60 * MINUTE_MS
    assert placed(times, datetime(2025, 3, 9, 12, 0), 15) == (
        utc(2026, 3, 9, 16),
        -240,
        0,
        year_ms,
    )
    assert placed(times, datetime(2025, 3, 7, 12, 0), 5) == (
        utc(2026, 3, 7, 17),
        -300,
        0,
        year_ms,
    )


def test_a_device_clock_hours_off_at_upload_is_a_zone_difference() -> None:
    times = UtcBootstrapping(
        "America/New_York",
        [DeviceTimeChange(datetime(2026, 3, 1, 9, 0), datetime(2026, 3, 1, 9, 10), index=1)],
        most_recent=datetime(2026, 3, 10, 9, 0),
        device_clock=datetime(2026, 3, 10, 10, 0),  # 3 hours behind 13:00 EDT
        computer_clock=utc(2026, 3, 10, 17, 0),
    )
    assert placed(times, datetime(2026, 3, 10, 9, 0), 2) == (utc(2026, 3, 10, 16), -420, 0, 0)


def test_without_a_device_clock_the_zone_applies_to_the_most_recent_data() -> None:
    spring = DeviceTimeChange(datetime(2026, 3, 8, 2, 0), datetime(2026, 3, 8, 3, 0), index=10)
    times = UtcBootstrapping("America/New_York", [spring], most_recent=datetime(2026, 3, 9, 12, 0))
    assert placed(times, datetime(2026, 3, 9, 12, 0), 15) == (utc(2026, 3, 9, 16), -240, 0, 0)
    assert placed(times, datetime(2026, 3, 7, 12, 0), 5) == (utc(2026, 3, 7, 17), -300, 0, 0)


IDENTITY = DeviceIdentity(
    manufacturer="Acme",
    model="Pump 1",
    serial_number="123",
    firmware_version="1.0",
    device_id="Pump1-123",
    tags=("insulin-pump",),
    clock=datetime(2026, 3, 10, 13, 0),
)


def test_a_read_with_clock_changes_is_bootstrapped_and_its_changes_are_sent() -> None:
    spring = DeviceTimeChange(
        datetime(2026, 3, 8, 2, 0), datetime(2026, 3, 8, 3, 0), index=2, agent="automatic"
    )
    data = DeviceData(
        identity=IDENTITY,
        readings=[
            BgReading(datetime(2026, 3, 7, 12, 0), 120, "mg/dL", index=1),
            BgReading(datetime(2026, 3, 9, 12, 0), 130, "mg/dL", index=3),
        ],
        time_changes=[spring],
    )
    times = time_processor(data, "America/New_York", utc(2026, 3, 10, 17, 0))
    out = normalize(data, times)
    assert out.time_processing == "utc-bootstrapping"
    sent = [d.to_json() for d in out.datums]
    assert [(d["type"], d["time"], d["timezoneOffset"]) for d in sent] == [
        ("smbg", "2026-03-07T17:00:00.000Z", -300),
        ("smbg", "2026-03-09T16:00:00.000Z", -240),
        ("deviceEvent", "2026-03-08T07:00:00.000Z", -240),
    ]
    change = sent[2]
    assert change["subType"] == "timeChange"
    assert change["method"] == "automatic"
    assert change["from"] == {"time": "2026-03-08T02:00:00"}
    assert change["to"] == {"time": "2026-03-08T03:00:00"}
    assert change["deviceTime"] == "2026-03-08T03:00:00"
    invalid, problems = validate_chunk(sent)  # what the cloud's validation says
    assert (invalid, problems) == (0, [])


def test_a_read_without_clock_changes_keeps_the_timezone_across_the_board() -> None:
    data = DeviceData(identity=IDENTITY, readings=[BgReading(datetime(2026, 3, 9), 99, "mg/dL")])
    times = time_processor(data, "America/New_York", utc(2026, 3, 10, 17, 0))
    assert isinstance(times, AcrossTheBoardTimezone)
    assert normalize(data, times).time_processing == "across-the-board-timezone"
