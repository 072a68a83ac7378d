"""Device kinds resolved to a target: an emulator in the test, or the bench's device.

``TargetDevice`` is what a test gets for ``@pytest.mark.device(KIND)``: the uploader's
DEVICE argument, the transport to reach it (the emulated USB bus or radio; on a bench
libusb, the system's Bluetooth or a Bumble moniker from rig.toml), who types the pairing
code, the identity to record, and, where the device can show one, its ledger for the
oracle. The same test body then runs unchanged on ``--hil-target=emulated`` and ``bench``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.model.meter import MeterModel
from emulator.timing import Timing
from hil.bench_devices import BenchDevice
from hil.ble import BleWorld
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter, plug_contour_meter, start_gls_meter
from hil.oracle import OutOfRangeRule
from hil.processes import control_display, meter_model_from_control
from hil.rig.config import CanConfig
from hil.rig.display_passkey import can_fixture_display
from uploader.pairing import PasskeyProvider, fixed_passkey
from uploader.session import UploadResult

OUT_OF_RANGE: dict[str, OutOfRangeRule] = {"contour-usb": "threshold", "gls-meter": "unknown"}
"""How each kind conveys LO/HI readings (``hil.oracle.expected_smbg``)."""

EMULATED_DEFAULTS: dict[str, dict[str, Any]] = {
    "contour-usb": {"seed": 1, "days": 30},
    "gls-meter": {"seed": 2, "days": 30},
}
"""The kinds ``hil_device`` resolves, and the history of the emulated device when the marker
gives no options."""


@dataclass
class TargetDevice:
    kind: str
    target: str
    name: str
    device_spec: str
    lock_key: str
    serial: str | None = None
    model: str | None = None
    firmware: str | None = None
    usb_backend: Any = None
    """A pyusb backend (the emulated bus), or None: libusb."""
    ble_transport: Any = None
    """A Bumble moniker or in-process HCI endpoint, or None: the system's Bluetooth."""
    runner: Callable[[Coroutine[Any, Any, UploadResult]], UploadResult] | None = None
    passkey: PasskeyProvider | None = None
    ledger: Callable[[], MeterModel] | None = None
    """The device's own record of what it holds, or None when it cannot show it."""
    emulator: Any = None
    """On the emulated target, the emulator handle (faults, plug/unplug); None on a bench."""

    @property
    def out_of_range(self) -> OutOfRangeRule:
        return OUT_OF_RANGE[self.kind]

    def identity(self) -> dict[str, str]:
        """What JUnit properties record about the device."""
        values = {
            "device_kind": self.kind,
            "device_name": self.name,
            "device_url": self.device_spec,
            "device_serial": self.serial,
            "device_model": self.model,
            "device_firmware": self.firmware,
        }
        return {key: value for key, value in values.items() if value}


def emulated_contour(
    bus: Any, timezone: str, timing: Timing, now: datetime | None, options: dict[str, Any]
) -> TargetDevice:
    meter: EmulatedUsbMeter = plug_contour_meter(
        bus,
        timezone,
        **{"timing": timing, "now": now, **EMULATED_DEFAULTS["contour-usb"], **options},
    )
    return TargetDevice(
        kind="contour-usb",
        target="emulated",
        name=f"emulated {meter.device.family.name}",
        device_spec=meter.device_spec,
        lock_key=meter.model.serial_number,
        serial=meter.model.serial_number,
        model=meter.model.model_name,
        firmware=meter.model.firmware_version,
        usb_backend=bus,
        ledger=lambda: meter.model,
        emulator=meter,
    )


def emulated_gls(
    world: BleWorld, timezone: str, now: datetime | None, options: dict[str, Any]
) -> TargetDevice:
    meter: EmulatedBleDevice[Any] = start_gls_meter(
        world, timezone, **{"now": now, **EMULATED_DEFAULTS["gls-meter"], **options}
    )
    model = meter.peripheral.model
    return TargetDevice(
        kind="gls-meter",
        target="emulated",
        name="emulated GLS meter",
        device_spec=meter.device_spec,
        lock_key=model.serial_number,
        serial=model.serial_number,
        model=model.model_name,
        firmware=model.firmware_version,
        ble_transport=world.host_endpoint(),
        runner=world.run,
        passkey=meter.read_display,
        ledger=lambda: meter.peripheral.model,
        emulator=meter,
    )


def bench_device(device: BenchDevice, can: CanConfig | None = None) -> TargetDevice:
    """The bench's device as rig.toml describes it: USB through libusb (``usb:``) or the
    uploader's USB/IP client (``usbip://``); Bluetooth through its ``ble_transport`` or the
    system's stack. The pairing code: rig.toml's fixed ``passkey``, else the display read by
    the CAN fixture (``can``) on the device's ``port``, else an emulator's ``control`` URL.
    With a ``control`` URL (an emulator process), its ledger."""
    passkey: PasskeyProvider | None = None
    if device.passkey is not None:
        passkey = fixed_passkey(f"{device.passkey:06d}")
    elif can is not None and device.port is not None:
        passkey = can_fixture_display(can, device.port, device.name)
    elif device.control is not None:
        passkey = control_display(device.control)
    control = device.control
    ledger: Callable[[], MeterModel] | None = None
    if control is not None and device.kind in ("gls-meter", "contour-usb"):
        ledger = lambda: meter_model_from_control(control)  # noqa: E731
    return TargetDevice(
        kind=device.kind,
        target="bench",
        name=device.name,
        device_spec=device.url,
        lock_key=device.lock_key,
        serial=device.serial,
        firmware=device.firmware,
        ble_transport=device.ble_transport,
        passkey=passkey,
        ledger=ledger,
    )
