"""USB transport over pyusb: find devices, open one, exchange interrupt/bulk transfers.

Real devices are reached through libusb (the library shipped by libusb-package); any other
pyusb backend can be handed in instead, which is how tests and the HIL suite reach emulated
devices and, later, devices exported over USB/IP. Nothing here knows which one it is using.

pyusb's errors are translated into the uploader's error types once, here, so drivers deal
with ``DeviceDisconnected``, ``DeviceTimeout``, ``DeviceBusy``... and never with errno.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import usb.core
import usb.util

from uploader.errors import (
    DeviceAccessDenied,
    DeviceBusy,
    DeviceCommunicationError,
    DeviceDisconnected,
    DeviceTimeout,
    UploaderError,
    UsbUnavailable,
)
from uploader.usb_diagnostics import busy

UsbBackend = Any
"""A pyusb backend (``usb.backend.IBackend``)."""


def default_backend() -> UsbBackend:
    """libusb 1.0 from the libusb-package wheel, or the system's one.

    Raises ``UsbUnavailable`` when neither starts (no USB bus, no permission)."""
    import libusb_package
    import usb.backend.libusb1

    backend = libusb_package.get_libusb1_backend() or usb.backend.libusb1.get_backend()
    if backend is None:
        raise UsbUnavailable(
            "libusb could not start, so no USB device can be reached from this computer "
            "(no USB bus, or no permission to use it)."
        )
    return backend


def translate(error: usb.core.USBError, doing: str) -> UploaderError:
    """The uploader error for a pyusb error raised while ``doing`` something."""
    if isinstance(error, usb.core.USBTimeoutError) or error.errno == errno.ETIMEDOUT:
        return DeviceTimeout(f"The device did not answer in time while {doing}.")
    if error.errno == errno.ENODEV:
        return DeviceDisconnected(f"The device was disconnected while {doing}.")
    if error.errno == errno.EACCES:
        return DeviceAccessDenied(f"This user may not use the device ({doing}: permission denied).")
    if error.errno == errno.EBUSY:
        return DeviceBusy(f"Another program or driver holds the device ({doing}: resource busy).")
    if error.errno == errno.EPIPE:
        return DeviceCommunicationError(f"The device stalled (refused a transfer) while {doing}.")
    return DeviceCommunicationError(f"USB error while {doing}: {error}.")


@dataclass(frozen=True)
class UsbDeviceInfo:
    """What enumeration tells about a device, before it is opened."""

    vendor_id: int
    product_id: int
    bus: int | None
    address: int | None
    serial_number: str | None
    product: str | None
    device: usb.core.Device
    access_denied: bool = False
    """The system refused to open the device (its strings could not be read)."""

    @property
    def location(self) -> str:
        return f"bus {self.bus} address {self.address}"


def _describe(dev: usb.core.Device) -> UsbDeviceInfo:
    """Enumeration facts plus the product and serial strings (which need the device opened;
    an "access denied" there is remembered, since it means the user lacks permission)."""
    strings: dict[str, str | None] = {"serial": None, "product": None}
    denied = False
    try:
        # Asked directly: the Device.langids property would hide "access denied".
        langids = usb.util.get_langids(dev)
    except usb.core.USBError as exc:
        denied, langids = exc.errno == errno.EACCES, ()
    except NotImplementedError:
        langids = ()
    for name, index in (("serial", dev.iSerialNumber), ("product", dev.iProduct)):
        if not index or not langids:
            continue
        try:
            strings[name] = str(usb.util.get_string(dev, index, langids[0]))
        except usb.core.USBError as exc:
            denied = denied or exc.errno == errno.EACCES
        except (ValueError, NotImplementedError):
            pass  # an unreadable string: the device is still usable
    usb.util.dispose_resources(dev)  # release the handle the string requests opened
    return UsbDeviceInfo(
        vendor_id=dev.idVendor,
        product_id=dev.idProduct,
        bus=dev.bus,
        address=dev.address,
        serial_number=strings["serial"],
        product=strings["product"],
        device=dev,
        access_denied=denied,
    )


def find_devices(
    backend: UsbBackend, match: Callable[[int, int], bool] = lambda _vid, _pid: True
) -> list[UsbDeviceInfo]:
    """Every device on ``backend`` whose (vendor id, product id) ``match`` accepts."""
    try:
        found = usb.core.find(
            find_all=True,
            backend=backend,
            custom_match=lambda dev: match(dev.idVendor, dev.idProduct),
        )
        devices = list(found or [])
    except usb.core.NoBackendError as exc:
        raise UsbUnavailable(f"No USB backend is available ({exc}).") from exc
    except usb.core.USBError as exc:
        raise translate(exc, "listing USB devices") from exc
    return [_describe(dev) for dev in devices]


class UsbTransport:
    """An opened device: its first interface claimed, the kernel driver detached if bound.

    ``read``/``write`` move whole packets on the interface's IN/OUT endpoints (interrupt or
    bulk). ``close`` releases the interface and hands it back to the kernel driver."""

    def __init__(self, info: UsbDeviceInfo, interface: int = 0) -> None:
        self.info = info
        self._dev = info.device
        self._interface = interface
        self._detached = False
        self._closed = False
        try:
            if self._kernel_driver_active():
                self._dev.detach_kernel_driver(interface)
                self._detached = True
            config = self._configuration()
            intf = config[(interface, 0)]
            usb.util.claim_interface(self._dev, interface)
            self._ep_in = self._endpoint(intf, usb.util.ENDPOINT_IN)
            self._ep_out = self._endpoint(intf, usb.util.ENDPOINT_OUT)
        except usb.core.USBError as exc:
            self.close()  # give the interface back to the kernel driver
            if exc.errno == errno.EBUSY:  # name the program that holds it, if we can
                raise busy(info, "opening the device") from exc
            raise translate(exc, "opening the device") from exc
        except UploaderError:
            self.close()
            raise
        self.packet_size = int(self._ep_in.wMaxPacketSize)

    def _configuration(self) -> Any:
        """The active configuration; the first one is set only if none is (setting it again
        makes some devices reset)."""
        try:
            return self._dev.get_active_configuration()
        except usb.core.USBError as exc:
            if exc.errno is not None:
                raise
        self._dev.set_configuration()
        return self._dev.get_active_configuration()

    def _kernel_driver_active(self) -> bool:
        try:
            return bool(self._dev.is_kernel_driver_active(self._interface))
        except NotImplementedError:  # Windows and macOS backends: no kernel drivers to detach
            return False
        except usb.core.USBError as exc:
            if exc.errno is not None:  # ENODEV, EACCES...: the device's own answer
                raise
            # LIBUSB_ERROR_OTHER: the system cannot say (an emulated usbfs, umockdev). Claim
            # anyway: a driver that does hold the interface makes the claim fail with EBUSY.
            return False

    @staticmethod
    def _endpoint(intf: Any, direction: int) -> Any:
        endpoint = usb.util.find_descriptor(
            intf,
            custom_match=lambda e: usb.util.endpoint_direction(e.bEndpointAddress) == direction,
        )
        if endpoint is None:
            kind = "IN" if direction == usb.util.ENDPOINT_IN else "OUT"
            raise DeviceCommunicationError(
                f"The device has no {kind} endpoint on its first interface."
            )
        return endpoint

    def write(self, data: bytes, timeout_ms: int) -> None:
        try:
            self._ep_out.write(data, timeout_ms)
        except usb.core.USBError as exc:
            raise translate(exc, "sending to the device") from exc

    def read(self, timeout_ms: int) -> bytes:
        try:
            return bytes(self._ep_in.read(self.packet_size, timeout_ms))
        except usb.core.USBError as exc:
            raise translate(exc, "reading from the device") from exc

    def close(self) -> None:
        """Release the device; never fails (the device may already be gone)."""
        if self._closed:
            return
        self._closed = True
        try:
            usb.util.release_interface(self._dev, self._interface)
            if self._detached:
                self._dev.attach_kernel_driver(self._interface)
        except (usb.core.USBError, NotImplementedError):
            pass
        finally:
            usb.util.dispose_resources(self._dev)
