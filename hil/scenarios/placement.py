"""Scenario devices: each built with its generated history and attached as a test's are.

A Contour meter is plugged into the emulated USB bus (``hil.devices.plug_contour_meter``);
a GLS meter, CGM or IDS pump starts advertising on the emulated radio (``hil.devices``).
``Placed`` keeps the handle and what the cloud has been shown of it (for memory wraps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from emulator.faults import FaultPlan
from emulator.model import GlucoseUnit
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.devices import (
    EmulatedBleDevice,
    EmulatedUsbMeter,
    ManualTime,
    plug_contour_meter,
    start_cgm_sensor,
    start_gls_meter,
    start_ids_pump,
)
from hil.scenarios.model import Device, Scenario

DEFAULT_COUNT = 60
"""Readings of a meter whose scenario gives neither days nor count."""
BLE_ADDRESS = "F0:F0:F0:F0:F1:{:02X}"


@dataclass
class Placed:
    """A scenario device, built and attached, with what the cloud has been shown of it."""

    spec: Device
    timezone: str
    usb: EmulatedUsbMeter | None = None
    ble: EmulatedBleDevice[Any] | None = None
    cgm_time: ManualTime | None = None
    seen: dict[tuple[str, Any], dict[Any, Any]] = field(default_factory=dict)
    """Per account: the expected datums of every reading the cloud was shown, by key."""

    @property
    def faults(self) -> FaultPlan:
        if self.usb is not None:
            return self.usb.faults
        assert self.ble is not None
        return self.ble.faults

    @property
    def serial(self) -> str:
        if self.usb is not None:
            return self.usb.model.serial_number
        assert self.ble is not None
        return str(self.ble.peripheral.model.serial_number)

    @property
    def device_spec(self) -> str:
        return self.usb.device_spec if self.usb is not None else self.ble_device().device_spec

    def ble_device(self) -> EmulatedBleDevice[Any]:
        assert self.ble is not None
        return self.ble


def place_device(
    spec: Device,
    index: int,
    scenario: Scenario,
    bus: EmulatedUsbBackend,
    world: BleWorld | None,
) -> Placed:
    """Build device number ``index`` (from 1) of ``scenario`` with its history, and attach
    it: a Contour meter plugged into ``bus``, a Bluetooth device advertising on ``world``."""
    zone = spec.timezone or scenario.timezone
    now = scenario.now
    offset = timedelta(minutes=spec.clock_offset_minutes)
    unit = GlucoseUnit.MG_DL if spec.unit == "mg/dL" else GlucoseUnit.MMOL_L
    serial = spec.serial
    address = spec.address or BLE_ADDRESS.format(index)
    placed = Placed(spec, zone)
    if spec.kind == "contour-usb":
        count = spec.count if spec.days is None and spec.count is not None else None
        placed.usb = plug_contour_meter(
            bus,
            zone,
            serial_number=serial or f"7390-23{index:05d}",
            family=spec.model or "Contour Next USB",
            seed=spec.seed,
            days=int(spec.days) if spec.days is not None else None,
            count=count if spec.days is not None or count is not None else DEFAULT_COUNT,
            unit=unit,
            memory_capacity=spec.memory_capacity,
            now=now,
            firmware_version=spec.firmware or "01.24",
            clock_offset=offset,
        )
        placed.usb.model.clock.drift_ppm = spec.drift_ppm
        return placed
    if world is None:
        raise ValueError(f"{spec.id}: a Bluetooth device needs a BleWorld")
    if spec.kind == "gls":
        placed.ble = start_gls_meter(
            world,
            zone,
            serial_number=serial or f"GLS-48{index:05d}",
            model_name=spec.model or "Contour Next One",
            address=address,
            seed=spec.seed,
            days=int(spec.days) if spec.days is not None else None,
            count=None if spec.days is not None else (spec.count or DEFAULT_COUNT),
            unit=unit,
            memory_capacity=spec.memory_capacity or 1000,
            passkey=spec.passkey,
            now=now,
            firmware_version=spec.firmware or "2.1.0",
            clock_offset=offset,
        )
        placed.ble.peripheral.model.clock.drift_ppm = spec.drift_ppm
    elif spec.kind == "cgm":
        placed.cgm_time = ManualTime(zone, now)
        placed.ble = start_cgm_sensor(
            world,
            zone,
            time=placed.cgm_time,
            seed=spec.seed,
            days=spec.days or 1,
            serial_number=serial,
            address=address,
            e2e_crc=spec.e2e,
            passkey=spec.passkey,
        )
    else:
        placed.ble = start_ids_pump(
            world,
            zone,
            seed=spec.seed,
            days=int(spec.days or 2),
            now=now,
            clock_changes=spec.clock_changes,
            e2e=spec.e2e,
            serial_number=serial or f"IDS-47{index:05d}",
            address=address,
            passkey=spec.passkey,
        )
    return placed
