"""Virtual USB devices and the pyusb backend that hosts them.

``VirtualUsbDevice`` is a device as the bus sees it: the exact descriptor bytes a real
device returns to GET_DESCRIPTOR, a control endpoint, interrupt/bulk endpoints, and a plug
state. ``EmulatedUsbBackend`` is a ``usb.backend.IBackend``: hand it to
``usb.core.find(backend=...)`` and the host code runs unchanged, with errors raised exactly
as pyusb's libusb1 backend raises them (same exception class, errno, message and code).
"""

from emulator.usb.backend import EmulatedUsbBackend
from emulator.usb.device import DeviceGone, EndpointStalled, TransferTimedOut, VirtualUsbDevice

__all__ = [
    "DeviceGone",
    "EmulatedUsbBackend",
    "EndpointStalled",
    "TransferTimedOut",
    "VirtualUsbDevice",
]
