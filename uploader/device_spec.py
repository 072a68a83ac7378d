"""Parsing the DEVICE argument: which device an upload should read.

Forms:
    ``usb``                      the one supported device found on USB
    ``usb:VID:PID``              a device by USB ids (hexadecimal, ``0x`` optional)
    ``usb:VID:PID:SERIAL``       and by serial number, when several are plugged in
"""

from __future__ import annotations

from dataclasses import dataclass

from uploader.errors import UsageError

FORMS = "usb, usb:VID:PID or usb:VID:PID:SERIAL (VID and PID in hexadecimal, e.g. usb:1a79:7410)"


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


DeviceSelector = UsbSelector


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
    parts = spec.strip().split(":")
    if parts[0].lower() != "usb":
        raise UsageError(f"Unknown device {spec!r}: use {FORMS}.")
    if len(parts) == 1:
        return UsbSelector()
    if len(parts) not in (3, 4) or not all(parts[1:3]):
        raise UsageError(f"Cannot read device {spec!r}: use {FORMS}.")
    serial = parts[3] if len(parts) == 4 and parts[3] else None
    return UsbSelector(
        _hex_id(parts[1], "vendor id", spec), _hex_id(parts[2], "product id", spec), serial
    )
