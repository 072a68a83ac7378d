"""Where a datum sits in time: the time fields every Tidepool datum carries (base.v1.yaml:
``time``, ``deviceTime``, ``timezoneOffset``, ``clockDriftOffset``, ``conversionOffset``), as
keyword arguments of an ``uploader.datamodel`` model, from a ``TimeProcessor``'s answer."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from uploader.timeproc import TimeFields, TimeProcessor


class Placement(TypedDict):
    time: datetime
    device_time: datetime
    timezone_offset: int
    clock_drift_offset: int
    conversion_offset: int


def placement(when: TimeFields, device_time: datetime) -> Placement:
    """The fields of a datum shown at ``device_time`` and placed at ``when``."""
    return Placement(
        time=when.time,
        device_time=device_time,
        timezone_offset=when.timezone_offset,
        clock_drift_offset=when.clock_drift_offset,
        conversion_offset=when.conversion_offset,
    )


def placed(device_time: datetime, index: int | None, times: TimeProcessor) -> Placement:
    """The fields of the record made at ``device_time`` (``index``), placed by ``times``."""
    return placement(times.fields(device_time, index), device_time)
