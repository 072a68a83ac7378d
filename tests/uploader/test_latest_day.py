"""The latest-day check (uploader.latest_day): the day users are told to look at by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

from uploader.latest_day import check, local_day


def smbg(time: str, offset: int, device_time: str) -> dict[str, Any]:
    return {"type": "smbg", "time": time, "timezoneOffset": offset, "deviceTime": device_time}


def test_a_datums_day_is_its_local_date_not_its_utc_date() -> None:
    assert local_day(smbg("2026-03-15T03:00:00.000Z", -300, "2026-03-14T22:00:00")) == date(
        2026, 3, 14
    )
    assert local_day(smbg("2026-03-14T23:30:00.000Z", 60, "2026-03-15T00:30:00")) == date(
        2026, 3, 15
    )


def test_a_device_read_today_with_nothing_later_in_the_cloud_needs_no_note() -> None:
    newest = smbg("2026-03-15T15:00:00.000Z", -240, "2026-03-15T11:00:00")
    older = smbg("2026-03-14T15:00:00.000Z", -240, "2026-03-14T11:00:00")
    found = check([older, newest], [newest], today=date(2026, 3, 15))
    assert found is not None
    assert (found.device_day, found.cloud_day) == (date(2026, 3, 15), date(2026, 3, 15))
    assert found.notes() == []


def test_cloud_data_later_than_the_devices_newest_record_is_pointed_out() -> None:
    newest = smbg("2026-03-15T15:00:00.000Z", -240, "2026-03-15T11:00:00")
    misplaced = smbg("2026-03-17T01:00:00.000Z", -240, "2026-03-16T21:00:00")
    found = check([newest], [newest, misplaced], today=date(2026, 3, 15))
    assert found is not None and found.cloud_day == date(2026, 3, 16)
    (note,) = found.notes()
    assert "up to 2026-03-16" in note and "2026-03-16T21:00:00" in note
    assert "newest record (2026-03-15)" in note


def test_a_device_whose_newest_record_is_older_than_yesterday_is_pointed_out() -> None:
    newest = smbg("2026-03-10T15:00:00.000Z", -240, "2026-03-10T11:00:00")
    found = check([newest], [newest], today=date(2026, 3, 15))
    assert found is not None and found.previous_full_day == date(2026, 3, 14)
    (note,) = found.notes()
    assert "from 2026-03-10, before the previous full day (2026-03-14)" in note


def test_yesterday_as_the_newest_day_is_what_users_expect() -> None:
    newest = smbg("2026-03-14T15:00:00.000Z", -240, "2026-03-14T11:00:00")
    found = check([newest], [], today=date(2026, 3, 15))
    assert found is not None and found.notes() == []


def test_nothing_read_nothing_to_check() -> None:
    assert check([], [], today=date(2026, 3, 15)) is None
