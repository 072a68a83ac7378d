"""Device drivers, one small module per device family, and detection of connected devices.

To add a driver: write ``uploader/drivers/<family>.py`` with a class implementing
``uploader.drivers.base.Driver`` and a ``supports(vendor_id, product_id)`` function, then
list it in ``USB_DRIVERS`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from uploader.device_spec import UsbSelector
from uploader.drivers import contour_usb, minimed600
from uploader.drivers.base import Driver
from uploader.errors import DeviceAccessDenied
from uploader.transports.usb import UsbBackend, UsbDeviceInfo, find_devices
from uploader.usb_diagnostics import ambiguous, not_found


@dataclass(frozen=True)
class UsbDriverEntry:
    family: str
    supports: Callable[[int, int], bool]
    factory: Callable[[UsbDeviceInfo, int], Driver]
    ids: tuple[tuple[int, int, str], ...] = ()
    """(vendor id, product id, model) of the devices the driver supports, for messages."""


USB_DRIVERS: tuple[UsbDriverEntry, ...] = (
    UsbDriverEntry(
        "Contour USB meters",
        contour_usb.supports,
        contour_usb.ContourUsbDriver,
        tuple((contour_usb.VENDOR_ID, pid, name) for pid, name in contour_usb.MODELS.items()),
    ),
    UsbDriverEntry(
        "MiniMed 600-series pumps (through a Contour Next Link 2.4)",
        minimed600.supports,
        minimed600.MiniMed600Driver,
        ((minimed600.VENDOR_ID, minimed600.PRODUCT_ID, minimed600.LINK_NAME),),
    ),
)


def _entry_for(vendor_id: int, product_id: int) -> UsbDriverEntry | None:
    return next((e for e in USB_DRIVERS if e.supports(vendor_id, product_id)), None)


def supported_usb(vendor_id: int, product_id: int) -> bool:
    return _entry_for(vendor_id, product_id) is not None


def detect_usb(selector: UsbSelector, backend: UsbBackend, timeout_ms: int = 5000) -> Driver:
    """The driver for the one supported device ``selector`` picks; clear errors otherwise."""
    candidates = find_devices(
        backend, lambda vid, pid: selector.matches_ids(vid, pid) and supported_usb(vid, pid)
    )
    denied = [c for c in candidates if c.access_denied]
    if selector.serial_number is not None:
        candidates = [c for c in candidates if c.serial_number == selector.serial_number]
    if denied and (len(candidates) != 1 or candidates[0].access_denied):
        listed = ", ".join(f"{c.vendor_id:04x}:{c.product_id:04x} at {c.location}" for c in denied)
        raise DeviceAccessDenied(f"This user may not open the device(s) found: {listed}.")
    if not candidates:
        wanted = "supported device" if selector.vendor_id is None else f"device matching {selector}"
        families = [e.family for e in USB_DRIVERS]
        raise not_found(wanted, families, (i for e in USB_DRIVERS for i in e.ids))
    if len(candidates) > 1:
        raise ambiguous(candidates)
    chosen = candidates[0]
    entry = _entry_for(chosen.vendor_id, chosen.product_id)
    assert entry is not None  # filtered above
    return entry.factory(chosen, timeout_ms)
