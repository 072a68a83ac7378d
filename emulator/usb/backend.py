"""``EmulatedUsbBackend``: a pyusb backend (``usb.backend.IBackend``) hosting virtual devices.

Host code finds and drives emulated devices with plain pyusb, ``usb.core.find(backend=...)``,
exactly as it drives hardware through libusb. Errors are raised as pyusb's libusb1 backend
raises them: the same class (``USBError``, ``USBTimeoutError``), the libusb error code, the
errno and libusb's own message, so a host's error handling is exercised for real.

Plugging a device enumerates it at a fresh address, as a real hub does; unplugging makes
every open handle fail with LIBUSB_ERROR_NO_DEVICE (errno ENODEV).
"""

from __future__ import annotations

import array
import errno
import itertools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import usb.backend
from usb.core import USBError, USBTimeoutError

from emulator.usb import descriptors as d
from emulator.usb.device import DeviceGone, EndpointStalled, TransferTimedOut, VirtualUsbDevice

# libusb error codes and the English messages libusb_strerror() gives for them.
LIBUSB_ERROR_IO = -1
LIBUSB_ERROR_ACCESS = -3
LIBUSB_ERROR_NO_DEVICE = -4
LIBUSB_ERROR_NOT_FOUND = -5
LIBUSB_ERROR_BUSY = -6
LIBUSB_ERROR_TIMEOUT = -7
LIBUSB_ERROR_PIPE = -9

_LIBUSB_ERRORS: dict[int, tuple[str, int]] = {
    LIBUSB_ERROR_IO: ("Input/Output Error", errno.EIO),
    LIBUSB_ERROR_ACCESS: ("Access denied (insufficient permissions)", errno.EACCES),
    LIBUSB_ERROR_NO_DEVICE: ("No such device (it may have been disconnected)", errno.ENODEV),
    LIBUSB_ERROR_NOT_FOUND: ("Entity not found", errno.ENOENT),
    LIBUSB_ERROR_BUSY: ("Resource busy", errno.EBUSY),
    LIBUSB_ERROR_TIMEOUT: ("Operation timed out", errno.ETIMEDOUT),
    LIBUSB_ERROR_PIPE: ("Pipe error", errno.EPIPE),
}

T = TypeVar("T")


def libusb_error(code: int) -> USBError:
    """The exception pyusb's libusb1 backend raises for libusb error ``code``."""
    message, errno_value = _LIBUSB_ERRORS[code]
    cls = USBTimeoutError if code == LIBUSB_ERROR_TIMEOUT else USBError
    return cls(message, code, errno_value)


class _Attachment:
    """One enumeration of a device (libusb's ``libusb_device``): dead once it is unplugged."""

    def __init__(self, device: VirtualUsbDevice) -> None:
        self.device = device
        self.generation = device.generation

    @property
    def live(self) -> bool:
        return self.device.connected and self.device.generation == self.generation


class _Handle:
    """An open device handle: the attachment plus the interfaces claimed through it."""

    def __init__(self, attachment: _Attachment) -> None:
        self.device = attachment.device
        self.generation = attachment.generation
        self.claimed: set[int] = set()


class EmulatedUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A USB bus of virtual devices, reachable through pyusb.

    >>> backend = EmulatedUsbBackend()
    >>> backend.plug(meter)                     # enumerates at a new address
    >>> usb.core.find(idVendor=0x1A79, backend=backend)
    """

    def __init__(self, bus: int = 1) -> None:
        self.bus_number = bus
        self._lock = threading.Lock()
        self._devices: dict[int, VirtualUsbDevice] = {}  # port -> device
        self._addresses = itertools.count(2)
        self._ports = itertools.count(1)
        self._charging: list[VirtualUsbDevice] = []
        """Devices on a charge-only cable: powered (VBUS), data lines not connected."""

    # ---- the bench: plugging and unplugging ---------------------------------------------

    def plug(self, device: VirtualUsbDevice, port: int | None = None) -> VirtualUsbDevice:
        """Plug ``device`` in (on ``port``, or the next free one). Returns it."""
        with self._lock:
            if device in self._charging:
                self._charging.remove(device)  # the cable was swapped for a data cable
            for old_port, plugged in list(self._devices.items()):
                if plugged is device:
                    if device.connected:
                        raise ValueError("that device is already plugged in; unplug it first")
                    del self._devices[old_port]  # it dropped off the bus (a link fault)
            if port is None:
                port = next(p for p in self._ports if p not in self._devices)
            elif port in self._devices:
                raise ValueError(f"port {port} already has a device")
            self._devices[port] = device
            device.attach(self.bus_number, next(self._addresses), port)
        return device

    def plug_charge_only(self, device: VirtualUsbDevice) -> None:
        """Plug ``device`` in with a charge-only cable: it gets VBUS but no data lines, so it
        never signals its presence and never enumerates; the host sees nothing at all."""
        with self._lock:
            if device in self._devices.values() or device in self._charging:
                raise ValueError("that device is already plugged in; unplug it first")
            self._charging.append(device)

    @property
    def charging(self) -> list[VirtualUsbDevice]:
        """Devices powered through a charge-only cable (invisible to the host)."""
        with self._lock:
            return list(self._charging)

    def unplug(self, device: VirtualUsbDevice) -> None:
        """Pull ``device`` out: open handles fail with ENODEV, enumeration no longer lists it."""
        with self._lock:
            if device in self._charging:
                self._charging.remove(device)
            for port, candidate in list(self._devices.items()):
                if candidate is device:
                    del self._devices[port]
        device.unplug()

    def replug(self, device: VirtualUsbDevice) -> VirtualUsbDevice:
        """Unplug and plug back in: the device powers up again at a new address."""
        self.unplug(device)
        return self.plug(device)

    @property
    def devices(self) -> list[VirtualUsbDevice]:
        with self._lock:
            return list(self._devices.values())

    # ---- error mapping ------------------------------------------------------------------

    @staticmethod
    def _call(fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except DeviceGone:
            raise libusb_error(LIBUSB_ERROR_NO_DEVICE) from None
        except TransferTimedOut:
            raise libusb_error(LIBUSB_ERROR_TIMEOUT) from None
        except EndpointStalled:
            raise libusb_error(LIBUSB_ERROR_PIPE) from None

    @staticmethod
    def _live(handle: _Handle) -> VirtualUsbDevice:
        """The handle's device, if it is still the same attachment (not unplugged/replugged)."""
        device = handle.device
        if not device.connected or device.generation != handle.generation:
            raise libusb_error(LIBUSB_ERROR_NO_DEVICE)
        return device

    # ---- enumeration and descriptors (cached, no I/O, as libusb) ------------------------

    def enumerate_devices(self) -> list[_Attachment]:
        with self._lock:
            return [_Attachment(dev) for dev in self._devices.values() if dev.connected]

    def get_parent(self, dev: _Attachment) -> None:
        return None

    def get_device_descriptor(self, attachment: _Attachment) -> d.DeviceDescriptor:
        dev = attachment.device
        parsed = dev.parsed_device_descriptor()
        return d.DeviceDescriptor(
            **{
                **parsed.__dict__,
                "bus": dev.bus,
                "address": dev.address,
                "port_number": dev.port,
                "port_numbers": (dev.port,),
                "speed": dev.speed,
            }
        )

    def _config(self, attachment: _Attachment, config: int) -> d.ConfigurationDescriptor:
        configs = attachment.device.parsed_configurations()
        if config >= len(configs):
            raise IndexError(f"Invalid configuration index {config}")
        return configs[config]

    def get_configuration_descriptor(
        self, dev: _Attachment, config: int
    ) -> d.ConfigurationDescriptor:
        return self._config(dev, config)

    def get_interface_descriptor(
        self, dev: _Attachment, intf: int, alt: int, config: int
    ) -> d.InterfaceDescriptor:
        numbers = self._config(dev, config).interface_numbers()
        if intf >= len(numbers):
            raise IndexError(f"Invalid interface index {intf}")
        alternates = self._config(dev, config).interfaces[numbers[intf]]
        if alt >= len(alternates):  # usb.core iterates alternates until IndexError
            raise IndexError(f"Invalid alternate setting index {alt}")
        return alternates[alt]

    def get_endpoint_descriptor(
        self, dev: _Attachment, ep: int, intf: int, alt: int, config: int
    ) -> d.EndpointDescriptor:
        interface = self.get_interface_descriptor(dev, intf, alt, config)
        if ep >= len(interface.endpoints):
            raise IndexError(f"Invalid endpoint index {ep}")
        return interface.endpoints[ep]

    # ---- handles ------------------------------------------------------------------------

    def open_device(self, dev: _Attachment) -> _Handle:
        if not dev.live:
            raise libusb_error(LIBUSB_ERROR_NO_DEVICE)
        if dev.device.faults.denies_access():
            raise libusb_error(LIBUSB_ERROR_ACCESS)
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        for intf in list(dev_handle.claimed):  # libusb_close never fails
            self._release(dev_handle, intf)

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._call(self._live(dev_handle).control, 0x00, 0x09, config_value, 0, b"")

    def get_configuration(self, dev_handle: _Handle) -> int:
        answer = self._call(self._live(dev_handle).control, 0x80, 0x08, 0, 0, 1)
        return (answer or b"\x00")[0]

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._call(self._live(dev_handle).control, 0x01, 0x0B, altsetting, intf, b"")

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = self._live(dev_handle)
        if intf in device.kernel_bound:  # as Linux usbfs answers while usbhid owns it
            raise libusb_error(LIBUSB_ERROR_BUSY)
        owner = device.claims.get(intf)
        if owner is not None and owner is not dev_handle:  # another program holds it
            raise libusb_error(LIBUSB_ERROR_BUSY)
        device.claims[intf] = dev_handle
        dev_handle.claimed.add(intf)

    @staticmethod
    def _release(dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)
        if dev_handle.device.claims.get(intf) is dev_handle:
            del dev_handle.device.claims[intf]

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._release(dev_handle, intf)
        self._live(dev_handle)

    # ---- transfers ----------------------------------------------------------------------

    def _write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        device = self._live(dev_handle)
        if intf not in dev_handle.claimed:
            raise libusb_error(LIBUSB_ERROR_NOT_FOUND)
        return self._call(device.write_out, ep, bytes(data), dev_handle.generation)

    def _read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        device = self._live(dev_handle)
        if intf not in dev_handle.claimed:
            raise libusb_error(LIBUSB_ERROR_NOT_FOUND)
        packet = self._call(
            device.read_in, ep, len(buff) * buff.itemsize, timeout, dev_handle.generation
        )
        buff[: len(packet)] = array.array(buff.typecode, packet)
        return len(packet)

    bulk_write = intr_write = _write
    bulk_read = intr_read = _read

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        device = self._live(dev_handle)
        size = len(data) * data.itemsize
        if bmRequestType & 0x80:  # IN: fill the caller's buffer
            answer = self._call(device.control, bmRequestType, bRequest, wValue, wIndex, size)
            payload = bytes(answer or b"")[:size]
            data[: len(payload)] = array.array(data.typecode, payload)
            return len(payload)
        self._call(device.control, bmRequestType, bRequest, wValue, wIndex, bytes(data))
        return size

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._call(self._live(dev_handle).control, 0x02, 0x01, 0, ep, b"")

    def reset_device(self, dev_handle: _Handle) -> None:
        device = dev_handle.device
        if not device.connected or device.generation != dev_handle.generation:
            raise libusb_error(LIBUSB_ERROR_NOT_FOUND)  # libusb: the device re-enumerated
        device.attach(device.bus, device.address, device.port)
        dev_handle.generation = device.generation

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return intf in self._live(dev_handle).kernel_bound

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = self._live(dev_handle)
        if intf not in device.kernel_bound:
            raise libusb_error(LIBUSB_ERROR_NOT_FOUND)
        device.kernel_bound.discard(intf)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = self._live(dev_handle)
        if intf in dev_handle.claimed:
            raise libusb_error(LIBUSB_ERROR_BUSY)
        device.kernel_bound.add(intf)
