"""Time processing: from device wall-clock time to UTC and Tidepool's three offsets.

Specs: ../shared/specs/tidepool-api/docs/datetime/ and
../shared/specs/tidepool-uploader/docs/BootstrappingToUTC.md.

Every datum gets ``time`` (UTC), ``timezoneOffset`` (minutes), ``clockDriftOffset`` and
``conversionOffset`` (milliseconds) from one ``TimeProcessor``. Meters cannot record their
own clock changes, so they get ``across-the-board-timezone``: the timezone the user chose
is applied to every device time. Devices that record their own clock changes (pumps) get
``utc-bootstrapping`` behind the same seam (``uploader.time_bootstrap``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from uploader.errors import UsageError


@dataclass(frozen=True)
class TimeFields:
    time: datetime  # aware, UTC
    timezone_offset: int  # minutes
    clock_drift_offset: int = 0  # ms
    conversion_offset: int = 0  # ms


class TimeProcessor(Protocol):
    name: str
    """The data set's ``timeProcessing`` value."""
    timezone: str
    zone: ZoneInfo

    def fields(self, device_time: datetime, index: int | None = None) -> TimeFields:
        """Where the record made at ``device_time`` (``index``: its place in the device's
        event order, when it has one) sits in UTC, with its offsets."""
        ...


def resolve_timezone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; a ``UsageError`` that says what is expected otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"Unknown timezone {name!r}: give an IANA timezone name such as "
            "'America/Los_Angeles' or 'Europe/London' (the zone of the device's most recent data)."
        ) from None


class AcrossTheBoardTimezone:
    """One user-chosen zone for every device time (BGMs: they keep no clock-change history).

    A wall time that happens twice (the hour repeated when daylight saving time ends) is
    taken at its first occurrence; one that never happens (skipped when it begins) is taken
    with the offset in force before the change, as a clock not yet moved forward would show.
    """

    name = "across-the-board-timezone"

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self.zone = resolve_timezone(timezone)

    def fields(self, device_time: datetime, index: int | None = None) -> TimeFields:
        local = device_time.replace(tzinfo=self.zone, fold=0)
        offset = local.utcoffset() or timedelta(0)
        return TimeFields(
            time=(device_time - offset).replace(tzinfo=UTC),
            timezone_offset=int(offset.total_seconds() // 60),
        )
