"""When ``diahil watch`` uploads on its own: every N minutes/hours, or daily at a time.

``--every 5m`` (``30s``, ``5m``, ``1h``, ``1h30m``) repeats from the watcher's start;
``--daily 07:30`` runs once a day at that wall-clock time in the upload's timezone (the
person's, as the Tidepool Uploader's timezone setting), DST included. Both may be given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from uploader.errors import UsageError

_PART = re.compile(r"(\d+)([smh])")
_UNITS = {"s": 1, "m": 60, "h": 3600}
MIN_EVERY = timedelta(seconds=10)


def parse_every(text: str) -> timedelta:
    """``30s``, ``5m``, ``1h``, ``1h30m`` as a duration (at least 10 s)."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise UsageError(f"--every {text!r}: give a duration such as 30s, 5m, 1h or 1h30m.")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if timedelta(seconds=seconds) < MIN_EVERY:
        raise UsageError(f"--every {text!r} is too often: the shortest interval is 10s.")
    return timedelta(seconds=seconds)


def parse_daily(text: str) -> time:
    """``HH:MM`` (24-hour clock)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UsageError(f"--daily {text!r}: give a time of day as HH:MM, e.g. 07:30 or 21:00.")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class Schedule:
    every: timedelta | None = None
    daily: time | None = None
    timezone: str = "UTC"

    @property
    def active(self) -> bool:
        return self.every is not None or self.daily is not None

    def next_after(self, moment: datetime, last: datetime | None = None) -> datetime | None:
        """The first scheduled instant after ``moment`` (aware); ``last`` is the previous
        scheduled instant (interval schedules count from it, so they do not drift)."""
        candidates: list[datetime] = []
        if self.every is not None:
            start = last if last is not None else moment
            due = start + self.every
            while due <= moment:
                due += self.every
            candidates.append(due)
        if self.daily is not None:
            zone = ZoneInfo(self.timezone)
            local = moment.astimezone(zone)
            for days in range(3):
                day = local.date() + timedelta(days=days)
                due = datetime.combine(day, self.daily, tzinfo=zone)
                if due > moment:
                    candidates.append(due)
                    break
        return min(candidates) if candidates else None

    def describe(self) -> str:
        parts = []
        if self.every is not None:
            parts.append(f"every {_duration(self.every)}")
        if self.daily is not None:
            parts.append(f"daily at {self.daily:%H:%M} ({self.timezone})")
        return " and ".join(parts) or "when a device appears"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds or not text else "")
