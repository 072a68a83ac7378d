"""Opening a USB device when the system cannot say whether a kernel driver holds it.

libusb answers LIBUSB_ERROR_OTHER from ``libusb_kernel_driver_active`` where the usbfs
GETDRIVER ioctl is not answered (umockdev's emulated usbfs, some containers). The
transport then claims the interface anyway: a driver that does hold it makes the claim
fail with EBUSY, which is reported as the device being busy.
"""

from __future__ import annotations

from typing import Any

import pytest
import usb.core

from emulator.devices.contour_usb import build_contour_meter
from emulator.usb import EmulatedUsbBackend
from uploader.errors import DeviceBusy
from uploader.transports.usb import UsbTransport, find_devices


class CannotTellDrivers:
    """The emulated bus, but ``is_kernel_driver_active`` fails as libusb's OTHER error."""

    def __init__(self, inner: EmulatedUsbBackend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def is_kernel_driver_active(self, dev_handle: Any, intf: int) -> bool:
        raise usb.core.USBError("Other error", -99, None)


@pytest.fixture
def bus() -> EmulatedUsbBackend:
    return EmulatedUsbBackend()


def test_without_a_driver_the_device_opens_and_answers(bus: EmulatedUsbBackend) -> None:
    meter = bus.plug(build_contour_meter("7390-1", count=3))
    meter.kernel_bound.clear()  # no driver bound, as under umockdev
    [found] = find_devices(CannotTellDrivers(bus))
    transport = UsbTransport(found)
    try:
        transport.write(b"ABC\x01\x05".ljust(64, b"\x00"), 1000)  # ENQ: the meter answers
        assert transport.read(1000)[:3] == b"ABC"
    finally:
        transport.close()


def test_a_driver_that_holds_it_makes_the_device_busy(bus: EmulatedUsbBackend) -> None:
    bus.plug(build_contour_meter("7390-1", count=3))  # usbhid bound, and nobody can tell
    [found] = find_devices(CannotTellDrivers(bus))
    with pytest.raises(DeviceBusy):
        UsbTransport(found)
