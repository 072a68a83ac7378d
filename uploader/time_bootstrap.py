"""Bootstrapping to UTC (``utc-bootstrapping``): placing device times by the device's own
record of its clock changes.

Specs: ../shared/specs/tidepool-api/docs/datetime/ (btutc.md, btutc/*.md) and
../shared/specs/tidepool-uploader/docs/BootstrappingToUTC.md.

Three sources: the timezone of the device's most recent data (the user's choice at upload),
the device's clock changes (``DeviceTimeChange``: display time ``from`` -> ``to``, in the
device's event order), and, when known, the device clock and the computer clock at upload.

The offsets in force at upload are found first: the zone's offset now, and the device clock's
error against the computer's clock in that zone, classified like any clock change (below).
When the device clock is unknown, the offset is the zone's at the most recent device time and
the other two start at zero, as the spec's simplifying assumption has it. Then the changes are
followed backwards, from the most recent to the earliest; each one moved the clock by
``to - from``, and the offsets before it are those after it minus that movement:

- under 15 minutes: clock drift (``clockDriftOffset``, milliseconds);
- larger, up to 1560 minutes (UTC-12 to UTC+14) once rounded to 15 minutes: a timezone
  change (travel, DST) of the movement rounded to 30 minutes (``timezoneOffset``), the
  remainder to ``clockDriftOffset``;
- larger still (wrong day, month or year): ``conversionOffset``, unrounded.

A record is placed by the offsets in force when it was made: by its ``index`` (the device's
event order) when it and the changes have one, else by its device time (after the newest
change whose ``to`` time it is not earlier than; a record in the hour repeated by setting the
clock back is then taken as made after the change). ``time = deviceTime - timezoneOffset -
conversionOffset``: ``clockDriftOffset`` is kept for provenance only, as in Tidepool.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from uploader.records import DeviceData, DeviceTimeChange
from uploader.timeproc import AcrossTheBoardTimezone, TimeFields, resolve_timezone

DRIFT_LIMIT_MIN = 15
"""A clock change smaller than this (in minutes) is a drift correction."""
TIMEZONE_STEP_MIN = 30
"""Timezone changes are rounded to this many minutes."""
CONVERSION_ROUNDING_MIN = 15
MAX_TIMEZONE_CHANGE_MIN = 1560
"""The largest difference travel can make (UTC-12:00 to UTC+14:00)."""


def _round_to(minutes: float, step: int) -> int:
    """``minutes`` to the nearest multiple of ``step``, halves away from zero."""
    return int(math.copysign(math.floor(abs(minutes) / step + 0.5) * step, minutes))


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


@dataclass(frozen=True)
class Offsets:
    """The three offsets in force over a stretch of the device's history."""

    timezone_offset: int = 0
    """Minutes."""
    clock_drift_offset: int = 0
    """Milliseconds."""
    conversion_offset: int = 0
    """Milliseconds."""

    def moved(self, movement: timedelta, sign: int = 1) -> Offsets:
        """These offsets after the device clock moved by ``sign * movement``."""
        zone, drift, conversion = classify(movement)
        return Offsets(
            self.timezone_offset + sign * zone,
            self.clock_drift_offset + sign * drift,
            self.conversion_offset + sign * conversion,
        )

    def place(self, device_time: datetime) -> TimeFields:
        shift = timedelta(minutes=self.timezone_offset, milliseconds=self.conversion_offset)
        return TimeFields(
            time=(device_time - shift).replace(tzinfo=UTC),
            timezone_offset=self.timezone_offset,
            clock_drift_offset=self.clock_drift_offset,
            conversion_offset=self.conversion_offset,
        )


def classify(movement: timedelta) -> tuple[int, int, int]:
    """A clock movement as (timezone minutes, clock drift ms, conversion ms)."""
    minutes = movement.total_seconds() / 60
    if abs(minutes) < DRIFT_LIMIT_MIN:
        return 0, _ms(movement), 0
    if abs(_round_to(minutes, CONVERSION_ROUNDING_MIN)) > MAX_TIMEZONE_CHANGE_MIN:
        return 0, 0, _ms(movement)
    zone = _round_to(minutes, TIMEZONE_STEP_MIN)
    return zone, _ms(movement - timedelta(minutes=zone)), 0


class UtcBootstrapping:
    """The ``TimeProcessor`` for devices that record their clock changes (see the module
    docstring). ``segments[k]`` are the offsets in force after the first k changes."""

    name = "utc-bootstrapping"

    def __init__(
        self,
        timezone: str,
        changes: Sequence[DeviceTimeChange],
        *,
        most_recent: datetime,
        device_clock: datetime | None = None,
        computer_clock: datetime | None = None,
    ) -> None:
        """``most_recent``: the newest device time read (records and changes);
        ``device_clock`` (device wall time) and ``computer_clock`` (aware) were read together
        at upload, or are None when the device has no readable clock."""
        self.timezone = timezone
        self.zone = resolve_timezone(timezone)
        indexed = all(c.index is not None for c in changes)
        self.changes: list[DeviceTimeChange] = (
            sorted(changes, key=lambda c: c.index or 0) if indexed else list(changes)
        )
        self._indexes = [c.index or 0 for c in self.changes] if indexed else None
        self.at_upload = self._anchor(most_recent, device_clock, computer_clock)
        segments = [self.at_upload]
        for change in reversed(self.changes):
            segments.append(segments[-1].moved(change.to_time - change.from_time, sign=-1))
        self.segments = segments[::-1]

    def _anchor(
        self, most_recent: datetime, device_clock: datetime | None, computer: datetime | None
    ) -> Offsets:
        if device_clock is None or computer is None:
            local = most_recent.replace(tzinfo=self.zone, fold=0)
            return Offsets(int((local.utcoffset() or timedelta(0)).total_seconds() // 60))
        local_now = computer.astimezone(self.zone)
        zone_now = int((local_now.utcoffset() or timedelta(0)).total_seconds() // 60)
        error = device_clock - local_now.replace(tzinfo=None)
        # Device clocks tick in whole seconds: what is below that is when in the second the
        # two clocks were read, not the device's error, and would differ on every read.
        error = timedelta(seconds=round(error.total_seconds()))
        return Offsets(zone_now).moved(error)

    def segment(self, device_time: datetime, index: int | None = None) -> Offsets:
        """The offsets in force when the record at ``device_time`` (``index``) was made."""
        if index is not None and self._indexes is not None:
            return self.segments[bisect.bisect_left(self._indexes, index)]
        for k in range(len(self.changes) - 1, -1, -1):
            if device_time >= self.changes[k].to_time:
                return self.segments[k + 1]
        return self.segments[0]

    def fields(self, device_time: datetime, index: int | None = None) -> TimeFields:
        return self.segment(device_time, index).place(device_time)

    def change_fields(self, change: DeviceTimeChange) -> TimeFields:
        """A change itself, placed at its ``to`` time by the offsets it put in force."""
        position = self.changes.index(change)
        return self.segments[position + 1].place(change.to_time)


def time_processor(
    data: DeviceData, timezone: str, computer_clock: datetime | None
) -> AcrossTheBoardTimezone | UtcBootstrapping:
    """utc-bootstrapping when the driver supplied the device's clock changes (or an earlier
    read did), else the timezone across the board (``computer_clock``: read with the device
    clock at identify)."""
    if not data.time_changes and not (data.bootstrapped_before and data.record_count):
        return AcrossTheBoardTimezone(timezone)
    newest = max(
        [r.device_time for r in data.readings]
        + [r.device_time for r in data.cgm_readings]
        + [c.to_time for c in data.time_changes]
        + (data.pump.device_times() if data.pump is not None else [])
    )
    return UtcBootstrapping(
        timezone,
        data.time_changes,
        most_recent=newest,
        device_clock=data.identity.clock,
        computer_clock=computer_clock,
    )
