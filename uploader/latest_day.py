"""The "latest day" check: what users are told to look at by hand after an upload.

Users check that the latest day their data shows is the one they expect (after a daily
upload, the previous full day). Two things make it wrong, and the uploader can see both:

- the cloud holds data for this device *later* than the device's newest record (an earlier
  upload under another timezone, or from a time the device clock was wrong): the latest day
  shown is that later day, not the device's;
- the device's newest record is older than the previous full day: the latest day shown will
  be that older day (the device was not used, or its date is wrong).

A datum's day is its local date: ``time + timezoneOffset``, the day a person saw on the
device (Tidepool's data model, docs/datetime). Each finding is a note in the summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any


def _utc(datum: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(datum["time"]).replace("Z", "+00:00"))


def local_day(datum: dict[str, Any]) -> date:
    """The local date of a datum as the API sends it (``time`` UTC, ``timezoneOffset`` min)."""
    return (_utc(datum) + timedelta(minutes=int(datum.get("timezoneOffset") or 0))).date()


def newest(datums: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The datum with the latest ``time``."""
    return max(datums, key=_utc, default=None)


@dataclass(frozen=True)
class LatestDay:
    device_day: date
    """The day of the device's newest record."""
    cloud_day: date
    """The day of the newest datum the cloud holds for this device."""
    previous_full_day: date
    """Yesterday, at upload, in the user's timezone."""
    cloud_newest: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_day": self.device_day.isoformat(),
            "cloud_day": self.cloud_day.isoformat(),
            "previous_full_day": self.previous_full_day.isoformat(),
            "notes": self.notes(),
        }

    def notes(self) -> list[str]:
        found: list[str] = []
        if self.cloud_day > self.device_day:
            kind = self.cloud_newest.get("type", "datum")
            found.append(
                f"The cloud holds data for this device up to {self.cloud_day} (a {kind} at "
                f"device time {self.cloud_newest.get('deviceTime')}), later than the device's "
                f"newest record ({self.device_day}): the latest day shown will be "
                f"{self.cloud_day}. It came from an earlier upload (another --timezone, or a "
                "time the device clock was wrong); ask support to remove it if it is wrong."
            )
        if self.device_day < self.previous_full_day:
            found.append(
                f"The device's newest record is from {self.device_day}, before the previous "
                f"full day ({self.previous_full_day}): the latest day shown will be "
                f"{self.device_day}. If readings were taken since, check the device's date."
            )
        return found


def check(
    sent: list[dict[str, Any]], stored_since: list[dict[str, Any]], today: date
) -> LatestDay | None:
    """Compare the device's newest datum (of ``sent``) with the cloud's newest for the device
    (``stored_since``: what the cloud holds from the device's newest time on); ``today`` is
    the upload's date in the user's timezone. None when there is nothing to compare."""
    device_newest = newest(sent)
    if device_newest is None:
        return None
    cloud_newest = newest([*stored_since, device_newest]) or device_newest
    return LatestDay(
        device_day=local_day(device_newest),
        cloud_day=local_day(cloud_newest),
        previous_full_day=today - timedelta(days=1),
        cloud_newest=cloud_newest,
    )
