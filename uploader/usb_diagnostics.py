"""USB diagnostics: the messages for the three ways a plugged-in device is not usable.

- Nothing on the bus matches: no supported device, or one on a charge-only cable (it draws
  power but its data lines are not connected, so it never enumerates; the computer cannot
  tell the two apart). The message names the supported USB ids and says to try a data cable.
- The device is claimed by another program (libusb's LIBUSB_ERROR_BUSY, errno EBUSY). On
  Linux the program is found by looking for processes that hold the device's node
  (``/dev/bus/usb/BBB/DDD``) open in ``/proc``; elsewhere, or when that is not allowed, the
  message names the usual suspects.
- Several matching devices are plugged in: each is listed with the DEVICE argument that
  picks it (``usb:VID:PID:SERIAL``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from uploader.errors import AmbiguousDevice, DeviceBusy, DeviceNotFound

if TYPE_CHECKING:
    from uploader.transports.usb import UsbDeviceInfo

USUAL_HOLDERS = (
    "the manufacturer's software (for Contour meters: GLUCOFACTS Deluxe, Contour Diabetes "
    "app), the Tidepool Uploader, or another `diahil upload` or `diahil watch`"
)


def device_node(bus: int | None, address: int | None) -> str | None:
    """The Linux usbfs node of a device (``/dev/bus/usb/001/004``)."""
    if bus is None or address is None:
        return None
    return f"/dev/bus/usb/{bus:03d}/{address:03d}"


def holders(node: str, proc: Path = Path("/proc")) -> list[str]:
    """``name (pid N)`` of every process with ``node`` open, as far as /proc lets us see."""
    found: list[str] = []
    own = os.getpid()
    try:
        entries = list(proc.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # another user's process, or gone
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target == node:
                found.append(f"{_process_name(entry)} (pid {entry.name})")
                break
    return found


def _process_name(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def busy(info: UsbDeviceInfo, doing: str, proc: Path = Path("/proc")) -> DeviceBusy:
    """The error for a device another program holds (EBUSY while ``doing``)."""
    ids = f"{info.vendor_id:04x}:{info.product_id:04x}"
    what = f"{info.product or 'The device'} ({ids} at {info.location})"
    node = device_node(info.bus, info.address)
    programs = holders(node, proc) if node else []
    if programs:
        return DeviceBusy(
            f"Another program holds {what}: {', '.join(programs)} ({doing}: resource busy).",
            hint=f"Close {', '.join(programs)}, then run the upload again.",
        )
    return DeviceBusy(
        f"Another program or driver holds {what} ({doing}: resource busy).",
        hint=f"Close the program that has it open: {USUAL_HOLDERS}. Then run the upload again.",
    )


def supported_ids_text(ids: Iterable[tuple[int, int, str]]) -> str:
    return ", ".join(f"{vid:04x}:{pid:04x} ({name})" for vid, pid, name in ids)


def not_found(
    wanted: str, families: Sequence[str], ids: Iterable[tuple[int, int, str]]
) -> DeviceNotFound:
    """Nothing on the bus matches (not plugged in, asleep, or on a charge-only cable)."""
    return DeviceNotFound(
        f"No {wanted} was found on USB (supported: {', '.join(families)}; USB ids "
        f"{supported_ids_text(ids)}).",
        hint="If the device is plugged in and charging, the cable may be a charge-only one "
        "(power, no data): use a data cable (the one that came with the device) or another "
        "USB port. Otherwise plug it in, wake it up, and run the upload again.",
    )


def ambiguous(candidates: Sequence[UsbDeviceInfo]) -> AmbiguousDevice:
    """Several matching devices: each with the DEVICE argument that picks it."""
    listed = "; ".join(
        f"usb:{c.vendor_id:04x}:{c.product_id:04x}:{c.serial_number or '?'} "
        f"({c.product or 'unknown'}, {c.location})"
        for c in candidates
    )
    first = candidates[0]
    example = f"usb:{first.vendor_id:04x}:{first.product_id:04x}:{first.serial_number or 'SERIAL'}"
    return AmbiguousDevice(
        f"{len(candidates)} matching devices are plugged in: {listed}.",
        hint=f"Pick one by its serial number, e.g. `diahil upload {example}`, or unplug the "
        "others.",
    )
