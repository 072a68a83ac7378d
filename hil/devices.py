"""Emulated devices as the HIL suite plugs them in.

A device's clock runs in the test's timezone (the person's local time, as a real meter's
would), its history is generated from a seed, and it is plugged into an emulated USB bus
that the uploader reaches through pyusb, exactly as it reaches hardware through libusb.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from emulator.devices.contour_usb import ASCENSIA_VID, ContourUsbMeter, build_contour_meter
from emulator.faults import FaultPlan
from emulator.model.clock import DeviceClock
from emulator.model.meter import GlucoseUnit, MeterModel
from emulator.timing import FAST, Timing
from emulator.usb import EmulatedUsbBackend


def wall_clock(timezone: str) -> Callable[[], datetime]:
    """True local wall-clock time in ``timezone`` (naive), the time source of a device clock."""
    zone = ZoneInfo(timezone)
    return lambda: datetime.now(zone).replace(tzinfo=None, microsecond=0)


@dataclass
class EmulatedUsbMeter:
    """A Contour meter plugged into an emulated USB bus."""

    bus: EmulatedUsbBackend
    device: ContourUsbMeter

    @property
    def model(self) -> MeterModel:
        return self.device.meter

    @property
    def faults(self) -> FaultPlan:
        return self.device.faults

    @property
    def device_spec(self) -> str:
        """The uploader's DEVICE argument that names exactly this meter."""
        product = self.device.family.product_id
        return f"usb:{ASCENSIA_VID:04x}:{product:04x}:{self.model.serial_number}"

    def unplug(self) -> None:
        self.bus.unplug(self.device)

    def plug(self) -> None:
        self.bus.plug(self.device)


def plug_contour_meter(
    bus: EmulatedUsbBackend,
    timezone: str,
    *,
    serial_number: str = "7390-2336773",
    family: str = "Contour Next USB",
    seed: int = 1,
    days: int | None = None,
    count: int | None = None,
    unit: GlucoseUnit = GlucoseUnit.MG_DL,
    memory_capacity: int | None = None,
    timing: Timing = FAST,
    faults: FaultPlan | None = None,
) -> EmulatedUsbMeter:
    """Build a Contour meter with ``days`` days (default 90) or the last ``count`` readings
    of history, and plug it in."""
    device = build_contour_meter(
        serial_number,
        family=family,
        seed=seed,
        days=days,
        count=count,
        unit=unit,
        memory_capacity=memory_capacity,
        clock=DeviceClock(time_source=wall_clock(timezone)),
        timing=timing,
        faults=faults,
    )
    bus.plug(device)
    return EmulatedUsbMeter(bus, device)
