"""Bluetooth date and time values: Date Time (0x2A08), Current Time (0x2A2B), Time Zone.

Date Time: year (uint16, 0 = unknown), month, day, hours, minutes, seconds. Current Time
adds the day of week, 1/256 fractions and an adjust reason. Time Zone (in CGM Session Start
Time) is a signed count of 15 minutes (-128 = unknown); DST offset is 0 (standard), 2
(+0.5 h), 4 (+1 h), 8 (+2 h), 255 (unknown).
"""

from __future__ import annotations

import struct
from datetime import datetime

DATE_TIME_SIZE = 7
TIME_ZONE_UNKNOWN = -128
DST_MINUTES = {0: 0, 2: 30, 4: 60, 8: 120}


def decode_date_time(raw: bytes, offset: int = 0) -> datetime:
    """A Date Time at ``offset``; ``ValueError`` for an unknown or impossible date."""
    if len(raw) < offset + DATE_TIME_SIZE:
        raise ValueError(f"a Date Time needs 7 bytes, got {len(raw) - offset}")
    year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", raw, offset)
    if year == 0 or month == 0 or day == 0:
        raise ValueError("the device reports an unknown date (zero year, month or day)")
    return datetime(year, month, day, hour, minute, second)


def encode_date_time(moment: datetime) -> bytes:
    return struct.pack(
        "<HBBBBB", moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    )


def utc_offset_minutes(time_zone: int, dst: int) -> int | None:
    """Minutes east of UTC from a Time Zone and DST Offset pair; None when either is unknown."""
    if time_zone == TIME_ZONE_UNKNOWN or dst not in DST_MINUTES:
        return None
    return time_zone * 15 + DST_MINUTES[dst]
