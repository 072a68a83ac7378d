"""USB/IP export of emulated USB devices (device side; Linux usbip_protocol.rst, v1.1.1).

``UsbipServer`` serves the devices an ``EmulatedUsbBackend`` holds over TCP, as Linux
``usbipd`` with ``usbip-host`` serves real ones: a Linux host with vhci-hcd attaches them
with ``usbip attach -r HOST -b BUSID``; the uploader's userspace client imports them.
"""

from emulator.usbip.server import UsbipServer

__all__ = ["UsbipServer"]
