"""The compatibility table: which device models each driver supports, from which firmware.

Checked at the IDENTIFY step, before anything is read: a model not listed for its driver is
``UnsupportedDevice``, firmware older than the model's minimum is ``FirmwareTooOld``. A
device that does not report its firmware is let through with a note.

The minimum versions are this project's policy, not the manufacturers': the oldest firmware
whose transfer the driver has been checked against. For the Contour Next USB that is 01.24,
the firmware of the public header in ../shared/specs/contour-usb.md; the other Contour USB
models are held to the same header format (emulated in emulator/devices/contour_usb.py).
For the Bluetooth profiles (GLS, CGMS, IDS) it is the firmware of the devices the suite emulates
(emulator/devices/ble.py, hil/devices.py). Adding a model or lowering a minimum takes a
capture from a real device and a passing test. For MiniMed 600-series pumps the version
checked is the Contour Next Link 2.4's (its ASTM header; the pump reports none over the link),
01.24 as in the public Contour header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from uploader.errors import FirmwareTooOld, UnsupportedDevice
from uploader.records import DeviceIdentity


@dataclass(frozen=True)
class SupportedModel:
    driver: str
    """The driver family (``Driver.compat_family``)."""
    model: str
    """The model as the device names itself (USB product, Device Information model number)."""
    min_firmware: str
    transport: str


TABLE: tuple[SupportedModel, ...] = (
    SupportedModel("contour-usb", "Contour Next USB", "01.24", "USB"),
    SupportedModel("contour-usb", "Contour USB", "01.24", "USB"),
    SupportedModel("contour-usb", "Contour Next One", "01.24", "USB"),
    SupportedModel("gls", "Contour Next One", "2.1.0", "Bluetooth (GLS)"),
    SupportedModel("gls", "diahil GLS meter", "1.0.0", "Bluetooth (GLS)"),
    SupportedModel("cgms", "diahil CGM", "1.0.0", "Bluetooth (CGMS)"),
    SupportedModel("ids-pump", "diahil IDS pump", "1.2.0", "Bluetooth (IDS)"),
    SupportedModel("minimed600", "MiniMed 600 series", "01.24", "USB (Contour Next Link 2.4)"),
    SupportedModel("tslim-x2", "t:slim X2", "1.0.0", "Bluetooth (Tandem, 16-character code)"),
)

UNKNOWN_FIRMWARE = frozenset({"", "unknown"})


def version_key(version: str) -> tuple[int, ...]:
    """``"01.24"`` -> (1, 24): the numbers of a version string, compared in order."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def models_for(driver: str) -> list[SupportedModel]:
    return [entry for entry in TABLE if entry.driver == driver]


def check(driver: str, identity: DeviceIdentity) -> str | None:
    """Raise if ``identity`` is not supported by ``driver``; a note for the user otherwise
    (or None). Drivers without a family (``""``) are not checked."""
    if not driver:
        return None
    entries = models_for(driver)
    entry = next((e for e in entries if e.model.casefold() == identity.model.casefold()), None)
    if entry is None:
        supported = ", ".join(e.model for e in entries)
        raise UnsupportedDevice(
            f"This model is not supported: {identity.model} (serial {identity.serial_number}, "
            f"firmware {identity.firmware_version}). Supported on this connection: {supported}."
        )
    firmware = identity.firmware_version.strip()
    if firmware.casefold() in UNKNOWN_FIRMWARE or not version_key(firmware):
        return (
            f"The {identity.model} did not report its firmware version, so it could not be "
            f"checked against the minimum ({entry.min_firmware})."
        )
    if version_key(firmware) < version_key(entry.min_firmware):
        raise FirmwareTooOld(
            f"Update the firmware first: this {identity.model} (serial "
            f"{identity.serial_number}) has firmware {firmware}, and uploads need "
            f"{entry.min_firmware} or newer."
        )
    return None
