"""Device records as drivers deliver them: device-neutral, in device time, before normalization.

Drivers translate their protocol's records into these types; ``uploader.normalize`` turns
them into Tidepool datums. Keeping this layer lets several drivers (a USB and a Bluetooth
meter, say) share one normalization, and lets the uploader count what it read before
deciding what to upload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from uploader.pump_records import PumpHistory


@dataclass(frozen=True)
class DeviceIdentity:
    manufacturer: str
    model: str
    serial_number: str
    firmware_version: str
    device_id: str
    """Tidepool ``deviceId``: unique to the device and the same at every upload."""
    tags: tuple[str, ...]
    """Tidepool ``deviceTags``: bgm, cgm, insulin-pump."""
    clock: datetime | None = None
    """The device's own clock at identification, in its wall-clock time."""


@dataclass(frozen=True)
class BgReading:
    """One fingerstick result."""

    device_time: datetime
    value: float
    units: Literal["mg/dL", "mmol/L"]
    out_of_range: Literal["low", "high"] | None = None
    threshold_mg_dl: int | None = None
    """The measuring-range bound the device reported for a LO/HI result, in mg/dL."""
    control_solution: bool = False
    index: int | None = None
    """The record's place in the device's own event order (see ``DeviceTimeChange``)."""
    sub_type: Literal["linked", "manual"] | None = None
    """How the reading reached the device: ``linked`` from a meter paired with a pump."""


@dataclass(frozen=True)
class CgmReading:
    """One sensor glucose value, placed by its session: start (device wall clock) + offset."""

    session_start: datetime
    """The session's start in the sensor's wall-clock time."""
    utc_offset_minutes: int | None
    """The sensor's UTC offset (time zone + DST) for the session; None when it does not say."""
    time_offset_minutes: int
    value_mg_dl: float
    trend_mg_dl_per_min: float | None = None
    out_of_range: Literal["low", "high"] | None = None
    index: int | None = None
    """The record's place in the device's own event order (see ``DeviceTimeChange``)."""

    @property
    def device_time(self) -> datetime:
        return self.session_start + timedelta(minutes=self.time_offset_minutes)


@dataclass(frozen=True)
class DeviceTimeChange:
    """The user (or the device itself) changed the device's date and time: the display
    showed ``from_time`` and then ``to_time`` (both device wall-clock times, no zone).

    ``index`` places the change in the device's own event order, the same order as the
    ``index`` of its records (a log position or an internal counter that clock changes do
    not affect): records made after a change that set the clock back have device times
    earlier than the change, and only the index tells them apart."""

    from_time: datetime
    to_time: datetime
    index: int | None = None
    agent: Literal["manual", "automatic"] = "manual"


@dataclass
class DeviceData:
    """Everything one read of a device produced."""

    identity: DeviceIdentity
    readings: list[BgReading] = field(default_factory=list)
    cgm_readings: list[CgmReading] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things the user should know about the read (skipped records, oddities)."""
    device_status: dict[str, Any] = field(default_factory=dict)
    """What the device reported about itself at the read (a pump: reservoir, battery,
    insulin on board...), JSON-ready; ``--json`` shows it as ``device.status``."""
    link_stats: dict[str, int] = field(default_factory=dict)
    """Transmission statistics: frames resent, duplicates dropped..."""
    time_changes: list[DeviceTimeChange] = field(default_factory=list)
    """The device's own record of its clock changes (pumps keep one; meters do not). When a
    driver supplies any, the uploader bootstraps times to UTC from them."""
    bootstrapped_before: bool = False
    """An earlier read (before this one's cursor) held clock changes: this read's records all
    come after them, so they are bootstrapped too (by the device clock at upload)."""
    computer_clock: datetime | None = None
    """The computer's clock (UTC) when the device clock was read: set by the session."""
    clock_set_to: datetime | None = None
    """What ``--set-clock`` set the device clock to (device wall time): set by the session."""
    clock_not_settable: str | None = None
    """Why ``--set-clock`` could not set the clock, and what the user can do instead."""
    cursor: str | None = None
    """Where the next read should start (driver-specific, e.g. a sequence number); saved by
    the session only once this read's data is verified in the cloud."""
    pump: PumpHistory | None = None
    """An insulin pump's boluses, basals, device events and settings."""

    @property
    def record_count(self) -> int:
        pump = self.pump.record_count if self.pump is not None else 0
        return len(self.readings) + len(self.cgm_readings) + pump
