"""Time values shared by the Bluetooth health services.

Specifications: GATT Specification Supplement, Date Time (0x2A08: year u16, month, day,
hours, minutes, seconds; 0 in year/month/day means unknown), Current Time (0x2A2B: Date
Time, Day of Week 1 = Monday .. 7 = Sunday, Fractions256, Adjust Reason), Time Zone (s8,
offset from UTC in 15-minute steps, -48..+56, -128 unknown) and DST Offset (u8: 0 standard
time, 2 half an hour, 4 one hour, 8 two hours, 255 unknown).
"""

from __future__ import annotations

import struct
from datetime import datetime

TIME_ZONE_UNKNOWN = -128
DST_UNKNOWN = 255
DST_CODES: dict[int, int] = {0: 0, 30: 2, 60: 4, 120: 8}
"""DST offset in minutes -> DST Offset code."""

ADJUST_MANUAL = 0x01
ADJUST_EXTERNAL_REFERENCE = 0x02
ADJUST_TIME_ZONE = 0x04
ADJUST_DST = 0x08


def date_time(when: datetime) -> bytes:
    """Date Time: the 7 bytes of ``when`` (to the second)."""
    return struct.pack(
        "<HBBBBB", when.year, when.month, when.day, when.hour, when.minute, when.second
    )


def parse_date_time(data: bytes) -> datetime:
    """A 7-byte Date Time as a naive datetime; ValueError when it is not a valid time."""
    if len(data) != 7:
        raise ValueError(f"a Date Time is 7 bytes, got {len(data)}")
    year, month, day, hour, minute, second = struct.unpack("<HBBBBB", data)
    return datetime(year, month, day, hour, minute, second)


def current_time(when: datetime, adjust_reason: int = 0) -> bytes:
    """Current Time: Date Time, Day of Week, Fractions256 (0) and Adjust Reason."""
    return date_time(when) + bytes([when.isoweekday(), 0, adjust_reason])


def time_zone(minutes: int | None) -> bytes:
    """Time Zone (s8) for a UTC offset in minutes (a multiple of 15), or unknown."""
    if minutes is None:
        return struct.pack("<b", TIME_ZONE_UNKNOWN)
    if minutes % 15 or not -48 <= minutes // 15 <= 56:
        raise ValueError(f"time zone offset {minutes} min is not 15-minute steps in -12h..+14h")
    return struct.pack("<b", minutes // 15)


def parse_time_zone(code: int) -> int | None:
    """Minutes east of UTC for a Time Zone code (signed), None when unknown."""
    if code == TIME_ZONE_UNKNOWN:
        return None
    if not -48 <= code <= 56:
        raise ValueError(f"time zone code {code} outside -48..+56")
    return code * 15


def dst_offset(minutes: int | None) -> bytes:
    """DST Offset (u8) for a daylight-saving shift in minutes, or unknown."""
    if minutes is None:
        return bytes([DST_UNKNOWN])
    try:
        return bytes([DST_CODES[minutes]])
    except KeyError:
        raise ValueError(f"DST offset {minutes} min is none of 0, 30, 60, 120") from None


def parse_dst_offset(code: int) -> int | None:
    """Minutes of daylight-saving shift for a DST Offset code, None when unknown."""
    if code == DST_UNKNOWN:
        return None
    for minutes, known in DST_CODES.items():
        if known == code:
            return minutes
    raise ValueError(f"DST offset code {code} is none of 0, 2, 4, 8, 255")
