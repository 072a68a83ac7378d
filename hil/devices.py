"""Emulated devices as the HIL suite plugs them in.

A device's clock runs in the test's timezone (the person's local time, as a real meter's
would), its history is generated from a seed, and it is plugged into an emulated USB bus
that the uploader reaches through pyusb, exactly as it reaches hardware through libusb.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from emulator.ble import CgmQuirks, CgmSensor, GlsMeter, GlsQuirks
from emulator.ble.ids_pump import IdsPump
from emulator.ble.tslim_x2 import DEFAULT_CODE as TSLIM_CODE
from emulator.ble.tslim_x2 import TslimX2
from emulator.devices.ble import build_cgm_model
from emulator.devices.cnl24 import Cnl24Faults, ContourNextLink24, build_cnl_minimed
from emulator.devices.contour_usb import ASCENSIA_VID, ContourUsbMeter, build_contour_meter
from emulator.devices.minimed600_pump import Minimed600Pump, PumpRadio
from emulator.devices.tslim_x2_pump import TslimX2Pump, tslim_x2_use
from emulator.faults import FaultPlan
from emulator.generators.cgm_history import CgmHistoryProfile
from emulator.generators.meter_history import generate_meter_history
from emulator.generators.pump_history import PumpHistoryProfile, generate_pump_history
from emulator.model.clock import DeviceClock
from emulator.model.meter import GlucoseUnit, MeterModel
from emulator.timing import FAST, Timing
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld


def wall_clock(timezone: str, start: datetime | None = None) -> Callable[[], datetime]:
    """Local wall-clock time in ``timezone`` (naive), the time source of a device clock.

    With ``start`` (an aware instant), the clock starts there and runs at real speed, so a
    test's history and readings are the same on every run; without it, it is real time."""
    zone = ZoneInfo(timezone)
    if start is None:
        return lambda: datetime.now(zone).replace(tzinfo=None, microsecond=0)
    began = time.monotonic()
    return lambda: (
        (start + timedelta(seconds=time.monotonic() - began))
        .astimezone(zone)
        .replace(tzinfo=None, microsecond=0)
    )


def _start_utc(now: datetime | None) -> datetime:
    """``now`` (aware; None: the real time) in UTC, to the second: where a history ends."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def running_utc(start: datetime | None) -> Callable[[], datetime]:
    """A UTC clock starting at ``start`` (aware) and running at real speed; None: real time."""
    if start is None:
        return lambda: datetime.now(UTC)
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


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
    now: datetime | None = None,
    firmware_version: str = "01.24",
    clock_offset: timedelta = timedelta(0),
) -> EmulatedUsbMeter:
    """Build a Contour meter with ``days`` days (default 90) or the last ``count`` readings
    of history ending at ``now`` (an aware instant; None: the real time), and plug it in.
    ``clock_offset``: how far the meter's clock is set from true local time."""
    device = build_contour_meter(
        serial_number,
        family=family,
        seed=seed,
        days=days,
        count=count,
        unit=unit,
        firmware_version=firmware_version,
        memory_capacity=memory_capacity,
        clock=DeviceClock(offset=clock_offset, time_source=wall_clock(timezone, now)),
        timing=timing,
        faults=faults,
    )
    bus.plug(device)
    return EmulatedUsbMeter(bus, device)


@dataclass
class EmulatedCnlMinimed:
    """A Contour Next Link 2.4 paired with a MiniMed 600-series pump, on an emulated USB bus."""

    bus: EmulatedUsbBackend
    device: ContourNextLink24

    @property
    def pump(self) -> Minimed600Pump:
        return self.device.pump

    @property
    def faults(self) -> FaultPlan:
        return self.device.faults

    @property
    def link_faults(self) -> Cnl24Faults:
        """Radio and link faults: pump out of range, corrupted CRC, wrong link key."""
        return self.device.link_faults

    @property
    def device_spec(self) -> str:
        """The uploader's DEVICE argument that names exactly this link."""
        descriptor = self.device.parsed_device_descriptor()
        vid, pid = descriptor.idVendor, descriptor.idProduct
        return f"usb:{vid:04x}:{pid:04x}:{self.device.model_and_serial}"

    def unplug(self) -> None:
        self.bus.unplug(self.device)

    def plug(self) -> None:
        self.bus.plug(self.device)


def plug_cnl_minimed(
    bus: EmulatedUsbBackend,
    timezone: str,
    *,
    seed: int = 1,
    days: int = 90,
    now: datetime | None = None,
    clock_changes: bool = True,
    radio: PumpRadio | None = None,
    model_and_serial: str = "6213-1234567",
    timing: Timing = FAST,
    faults: FaultPlan | None = None,
    link_faults: Cnl24Faults | None = None,
) -> EmulatedCnlMinimed:
    """A Contour Next Link 2.4 paired with a MiniMed 600 pump holding ``days`` days of history
    up to ``now`` (aware; None: the real time) for a person in ``timezone``, plugged in. The
    pump's clock then runs at real speed from ``now``; ``hil.minimed600_oracle.
    expected_minimed(handle.pump, timezone)`` is what the cloud must hold."""
    end = _start_utc(now)
    device = build_cnl_minimed(
        timezone=timezone,
        end=end,
        seed=seed,
        days=days,
        clock_changes=clock_changes,
        radio=radio,
        model_and_serial=model_and_serial,
        time_source=running_utc(end),
        timing=timing,
        faults=faults,
        link_faults=link_faults,
    )
    bus.plug(device)
    return EmulatedCnlMinimed(bus, device)


P = TypeVar("P", GlsMeter, CgmSensor, IdsPump, TslimX2)


@dataclass
class EmulatedBleDevice(Generic[P]):
    """A Bluetooth peripheral (GLS meter, CGM sensor) on a test's emulated radio."""

    world: BleWorld
    peripheral: P

    @property
    def device_spec(self) -> str:
        return f"ble:{self.peripheral.address}"

    @property
    def faults(self) -> FaultPlan:
        return self.peripheral.faults

    @property
    def display(self) -> str | None:
        return self.peripheral.display

    async def read_display(self, _label: str) -> int:
        """A passkey provider that reads the device's screen, as a person would."""
        return int(await self.peripheral.wait_display())

    def stop(self) -> None:
        self.world.run(self.peripheral.stop())

    def start(self) -> None:
        self.world.run(self.peripheral.start(self.world.air))


def start_gls_meter(
    world: BleWorld,
    timezone: str,
    *,
    serial_number: str = "GLS-4811234",
    model_name: str = "Contour Next One",
    address: str = "F0:F0:F0:F0:F0:01",
    seed: int = 1,
    days: int | None = 90,
    count: int | None = None,
    unit: GlucoseUnit = GlucoseUnit.MG_DL,
    memory_capacity: int = 1000,
    passkey: int | None = None,
    quirks: GlsQuirks | None = None,
    faults: FaultPlan | None = None,
    now: datetime | None = None,
    firmware_version: str = "2.1.0",
    clock_offset: timedelta = timedelta(0),
) -> EmulatedBleDevice[GlsMeter]:
    """A GLS meter with generated history, powered on and advertising on ``world``.
    ``clock_offset``: how far the meter's clock is set from true local time."""
    model = MeterModel(
        serial_number=serial_number,
        model_name=model_name,
        firmware_version=firmware_version,
        unit=unit,
        memory_capacity=memory_capacity,
        clock=DeviceClock(offset=clock_offset, time_source=wall_clock(timezone, now)),
    )
    model.load_history(generate_meter_history(seed, model.clock.now(), days=days, count=count))
    meter = GlsMeter(model, address=address, passkey=passkey, quirks=quirks, faults=faults)
    handle = EmulatedBleDevice(world, meter)
    handle.start()
    return handle


class ManualTime:
    """A time source for device clocks that moves only when the test says (``advance``):
    sensors that store readings later (backfill) or end sessions are tested step by step."""

    def __init__(self, timezone: str, start: datetime | None) -> None:
        self.zone = ZoneInfo(timezone)
        self.utc = _start_utc(start)

    def __call__(self) -> datetime:
        return self.utc.astimezone(self.zone).replace(tzinfo=None)

    def advance(self, by: timedelta) -> None:
        self.utc += by

    def utc_now(self) -> datetime:
        return self.utc


def start_cgm_sensor(
    world: BleWorld,
    timezone: str,
    *,
    time: ManualTime,
    seed: int = 1,
    days: float = 10,
    serial_number: str | None = None,
    address: str = "F0:F0:F0:F0:F0:02",
    e2e_crc: bool = False,
    passkey: int | None = None,
    quirks: CgmQuirks | None = None,
    faults: FaultPlan | None = None,
    profile: CgmHistoryProfile | None = None,
) -> EmulatedBleDevice[CgmSensor]:
    """A CGM whose first session started ``days`` ago, on ``world``; its clock is ``time``.

    The sensor's Session Start Time carries the zone's UTC offset at ``time``'s start."""
    here = time.utc.astimezone(time.zone)
    offset = here.utcoffset() or timedelta(0)
    dst = here.dst() or timedelta(0)
    model = build_cgm_model(
        seed=seed,
        days=days,
        serial_number=serial_number,
        clock=DeviceClock(time_source=time),
        profile=profile,
        time_zone_minutes=int((offset - dst).total_seconds() // 60),
        dst_minutes=int(dst.total_seconds() // 60),
    )
    sensor = CgmSensor(
        model, address=address, passkey=passkey, e2e_crc=e2e_crc, quirks=quirks, faults=faults
    )
    handle = EmulatedBleDevice(world, sensor)
    handle.start()
    return handle


def start_ids_pump(
    world: BleWorld,
    timezone: str,
    *,
    seed: int = 1,
    days: int = 90,
    now: datetime | None = None,
    clock_changes: bool = True,
    e2e: bool = False,
    serial_number: str = "IDS-4711001",
    address: str = "F0:F0:F0:F0:F0:03",
    passkey: int | None = None,
    faults: FaultPlan | None = None,
    profile: PumpHistoryProfile | None = None,
    connection_interval_ms: float = 0.0,
) -> EmulatedBleDevice[IdsPump]:
    """An IDS insulin pump holding ``days`` days of generated history up to ``now`` (aware;
    None: the real time) for a person in ``timezone``, powered on and advertising on
    ``world``. Its live clock starts at ``now`` and runs at real speed; its history stays
    as generated (``hil.pump_oracle.expected_pump(handle.peripheral.model, timezone)`` is what
    the cloud must hold)."""
    end = _start_utc(now)
    model = generate_pump_history(
        seed,
        timezone=timezone,
        end=end,
        days=days,
        clock_changes=clock_changes,
        profile=profile,
        serial_number=serial_number,
        time_source=running_utc(end),
    )
    pump = IdsPump(
        model,
        address=address,
        passkey=passkey,
        e2e=e2e,
        faults=faults,
        connection_interval_ms=connection_interval_ms,
    )
    handle = EmulatedBleDevice(world, pump)
    handle.start()
    return handle


def start_tslim_x2(
    world: BleWorld,
    timezone: str,
    *,
    seed: int = 1,
    days: int = 90,
    now: datetime | None = None,
    clock_changes: bool = True,
    serial_number: str = "90004711",
    address: str = "F0:F0:F0:F0:F0:0A",
    pairing_code: str = TSLIM_CODE,
    faults: FaultPlan | None = None,
    profile: PumpHistoryProfile | None = None,
    connection_interval_ms: float = 0.0,
) -> EmulatedBleDevice[TslimX2]:
    """A Tandem t:slim X2 holding ``days`` days of generated history up to ``now`` (aware;
    None: the real time) for a person in ``timezone``, showing ``pairing_code``, powered on
    and advertising on ``world``. The same pump model and generator as ``start_ids_pump``
    (``hil.tslim_x2_oracle.expected_tslim(handle.peripheral.pump, timezone)`` is what the
    cloud must hold); ``handle.display`` is the code on its screen."""
    end = _start_utc(now)
    model = generate_pump_history(
        seed,
        timezone=timezone,
        end=end,
        days=days,
        clock_changes=clock_changes,
        profile=tslim_x2_use(profile),
        serial_number=serial_number,
        model_name="t:slim X2",
        # 7.7 brought the 6-digit code (pumpX2 KnownApiVersion.API_V3_2)
        firmware_version="7.7.0" if len(pairing_code) == 6 else "7.4.0",
        time_source=running_utc(end),
    )
    pump = TslimX2(
        TslimX2Pump(model, seed=seed, timezone=timezone),
        pairing_code=pairing_code,
        address=address,
        faults=faults,
        connection_interval_ms=connection_interval_ms,
    )
    handle = EmulatedBleDevice(world, pump)
    handle.start()
    return handle
