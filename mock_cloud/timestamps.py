"""Date-time handling shared by the whole mock cloud.

Implements the two timestamp formats of the Tidepool data model
(reference/common/models/datetime.v1.yaml and datetimenotz.v1.yaml): RFC 3339 with a zone
offset or ``Z`` (``time``, ``createdTime``, query dates) and the zone-less local
``YYYY-MM-DDTHH:MM:SS`` (``deviceTime``, ``computerTime``). Also the clock type that lets
tests move time, and the conversions to the naive-UTC values stored in the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime."""

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_DEVICE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")

RFC3339_EXAMPLE = "2017-02-06T02:37:46Z"
DEVICE_TIME_EXAMPLE = "2017-02-06T02:37:46"


def system_clock() -> datetime:
    """The real current time, in UTC."""
    return datetime.now(UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time that carries a zone; return it as an aware UTC datetime.

    Raises ``ValueError`` with a message fit to show to an API client.
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 date-time with a zone offset or Z, "
            f"e.g. {RFC3339_EXAMPLE} or 2017-02-05T18:37:46-08:00"
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tzinfo = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
        if zone_hours > 23 or zone_minutes > 59:
            raise ValueError(f"{text!r} has an invalid zone offset {zone!r}")
        tzinfo = timezone(sign * timedelta(hours=zone_hours, minutes=zone_minutes))
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            microsecond,
            tzinfo=tzinfo,
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a valid calendar date and time") from None


def check_device_time(text: str) -> None:
    """Check a zone-less local date-time such as ``2017-02-06T02:37:46``.

    Raises ``ValueError`` with a message fit to show to an API client.
    """
    if _DEVICE_TIME.match(text) is None:
        raise ValueError(
            f"{text!r} is not a local date-time without zone in the form "
            f"YYYY-MM-DDTHH:MM:SS, e.g. {DEVICE_TIME_EXAMPLE}"
        )
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date and time") from None


def format_utc_ms(moment: datetime) -> str:
    """Format as UTC with millisecond precision and a final Z: ``2015-11-09T03:58:44.584Z``."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def to_db(moment: datetime) -> datetime:
    """Convert an aware datetime to the naive UTC value the database columns hold."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    """Convert a naive UTC value read from the database back to an aware datetime."""
    return value.replace(tzinfo=UTC)
