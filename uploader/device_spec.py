"""Parsing the DEVICE argument: which device an upload should read.

Forms:
    ``usb``                      the one supported device found on USB
    ``usb:VID:PID``              a device by USB ids (hexadecimal, ``0x`` optional)
    ``usb:VID:PID:SERIAL``       and by serial number, when several are plugged in
    ``ble``                      the one supported Bluetooth device advertising nearby
    ``ble:ADDRESS``              a Bluetooth device by address (``AA:BB:CC:DD:EE:FF``)
    ``ble:NAME``                 a Bluetooth device by its advertised name
    ``usbip://HOST:PORT/BUSID``  a USB device exported over USB/IP (``usbip list -r HOST``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from uploader.errors import UsageError
from uploader.transports.usbip import UsbipAddress, parse_usbip_url

FORMS = (
    "usb, usb:VID:PID, usb:VID:PID:SERIAL (VID and PID in hexadecimal, e.g. usb:1a79:7410), "
    "ble, ble:ADDRESS, ble:NAME or usbip://HOST:PORT/BUSID"
)
_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


@dataclass(frozen=True)
class UsbSelector:
    vendor_id: int | None = None
    product_id: int | None = None
    serial_number: str | None = None

    def matches_ids(self, vendor_id: int, product_id: int) -> bool:
        return (self.vendor_id is None or self.vendor_id == vendor_id) and (
            self.product_id is None or self.product_id == product_id
        )

    def __str__(self) -> str:
        if self.vendor_id is None:
            return "usb"
        text = f"usb:{self.vendor_id:04x}:{self.product_id or 0:04x}"
        return f"{text}:{self.serial_number}" if self.serial_number else text


@dataclass(frozen=True)
class UsbipSelector(UsbSelector):
    """A USB device exported over USB/IP: reached through the USB/IP client backend."""

    address: UsbipAddress | None = None

    def __str__(self) -> str:
        return str(self.address)


@dataclass(frozen=True)
class BleSelector:
    address: str | None = None
    name: str | None = None

    def matches(self, address: str, name: str | None) -> bool:
        if self.address is not None:
            return address.upper() == self.address
        return self.name is None or name == self.name

    def __str__(self) -> str:
        return f"ble:{self.address or self.name}" if self.address or self.name else "ble"


DeviceSelector = UsbSelector | BleSelector


def _hex_id(text: str, what: str, spec: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise UsageError(f"{what} {text!r} in {spec!r} is not hexadecimal; use {FORMS}.") from None
    if not 0 <= value <= 0xFFFF:
        raise UsageError(f"{what} {text!r} in {spec!r} is out of range (0000-ffff).")
    return value


def parse_device(spec: str) -> DeviceSelector:
    """The selector for ``spec``; ``UsageError`` naming the accepted forms otherwise."""
    if spec.strip().lower().startswith("usbip:"):
        return UsbipSelector(address=parse_usbip_url(spec))
    kind, _, rest = spec.strip().partition(":")
    if kind.lower() == "ble":
        if not rest:
            return BleSelector()
        if _ADDRESS.match(rest):
            return BleSelector(address=rest.upper())
        return BleSelector(name=rest)
    if kind.lower() != "usb":
        raise UsageError(f"Unknown device {spec!r}: use {FORMS}.")
    parts = spec.strip().split(":")
    if len(parts) == 1:
        return UsbSelector()
    if len(parts) not in (3, 4) or not all(parts[1:3]):
        raise UsageError(f"Cannot read device {spec!r}: use {FORMS}.")
    serial = parts[3] if len(parts) == 4 and parts[3] else None
    return UsbSelector(
        _hex_id(parts[1], "vendor id", spec), _hex_id(parts[2], "product id", spec), serial
    )
