"""Replaying a USB capture into the real libusb with umockdev (Debian package ``umockdev``).

``umockdev-run -d DEVICE.umockdev -p SYSFS=CAPTURE.pcap -- COMMAND`` runs COMMAND with
umockdev's preload library: ``/sys`` and ``/dev/bus/usb`` are redirected to a test bed that
holds the devices described in DEVICE.umockdev (sysfs attributes and the usbfs node), and
the usbfs ioctls on the device node are answered from the usbmon capture: each URB the
program submits is matched against the recording's next Submit (type, endpoint, length and,
for OUT, the bytes) and reaped with the recorded Complete (data and status). So the
uploader runs on its real libusb backend, exactly as on hardware.

This module writes both inputs:

- ``device_description``: the ``.umockdev`` text of a USB device as ``umockdev-record``
  writes it (the attributes libusb's sysfs enumeration reads: busnum, devnum, idVendor,
  idProduct, speed, bConfigurationValue, descriptors...), from a device's descriptor bytes:
  an emulated device's, or those a capture recorded (``emulator.replay.ReplayUsbDevice``);
- ``replayable_capture``: a usbmon capture (LINKTYPE 220, pcap or pcapng) rewritten as
  umockdev 0.17 can replay it. umockdev replays a transfer that timed out by not completing
  it, so URBs that ended cancelled or timed out (status -ENOENT, -ECONNRESET, -ETIMEDOUT)
  are left out: the program's own URB then times out as the recorded one did.

Limits of umockdev 0.17 (measured, see docs/ci.md): control transfers submitted through
libusb never match a usbmon record (libusb's usbfs URB carries the setup packet in its
buffer, usbmon records it apart), so they time out (the uploader's string descriptor reads
at detection take 1 s and find no serial number); the usbfs GETDRIVER ioctl is not
answered, which libusb reports as LIBUSB_ERROR_OTHER.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import dpkt

from emulator.usb.device import VirtualUsbDevice

LINKTYPE_USB_LINUX_MMAPPED = 220
SYSFS_PATH = "/sys/devices/pci0000:00/0000:00:14.0/usb{bus}/{bus}-{port}"
"""Where the device appears in the test bed's sysfs (``-p`` takes this path)."""

_USBMON = struct.Struct("<QBBBBHbbqiiII")  # id, type, xfer, epnum, devnum, busnum, flags,
# ts_sec, ts_usec, status, length, len_cap: the first 48 bytes of struct usbmon_packet
_SPEEDS = {1: "1.5", 2: "12", 3: "480", 4: "5000"}
_NOT_COMPLETED = {-errno.ENOENT, -errno.ECONNRESET, -errno.ETIMEDOUT}


@dataclass(frozen=True)
class UsbAddress:
    bus: int
    devnum: int
    port: int = 1

    @property
    def sysfs_path(self) -> str:
        return SYSFS_PATH.format(bus=self.bus, port=self.port)


def device_description(device: VirtualUsbDevice, address: UsbAddress) -> str:
    """The ``.umockdev`` record of ``device`` at ``address`` (one sysfs device)."""
    raw = device.device_descriptor + b"".join(device.configurations)
    vendor, product, bcd = struct.unpack_from("<HHH", device.device_descriptor, 8)
    config = device.configurations[0]
    num_interfaces, config_value = config[4], config[5]
    node = f"bus/usb/{address.bus:03d}/{address.devnum:03d}"
    minor = (address.bus - 1) * 128 + address.devnum - 1
    lines = [
        f"P: {address.sysfs_path.removeprefix('/sys')}",
        f"N: {node}={raw.hex().upper()}",
        f"E: DEVNAME=/dev/{node}",
        "E: DEVTYPE=usb_device",
        "E: DRIVER=usb",
        f"E: PRODUCT={vendor:x}/{product:x}/{bcd:x}",
        f"E: BUSNUM={address.bus:03d}",
        f"E: DEVNUM={address.devnum:03d}",
        "E: MAJOR=189",
        f"E: MINOR={minor}",
        "E: SUBSYSTEM=usb",
        "A: authorized=1",
        f"A: bConfigurationValue={config_value}",
        f"A: bDeviceClass={device.device_descriptor[4]:02x}",
        f"A: bMaxPacketSize0={device.device_descriptor[7]}",
        f"A: bNumConfigurations={len(device.configurations)}",
        f"A: bNumInterfaces={num_interfaces:2d}",
        f"A: bcdDevice={bcd:04x}",
        f"A: busnum={address.bus}",
        f"H: descriptors={raw.hex().upper()}",
        f"A: dev=189:{minor}",
        f"A: devnum={address.devnum}",
        f"A: devpath={address.port}",
        f"A: idProduct={product:04x}",
        f"A: idVendor={vendor:04x}",
        f"A: speed={_SPEEDS.get(device.speed, '12')}",
    ]
    for attribute, index in (("manufacturer", 14), ("product", 15), ("serial", 16)):
        text = device.strings.get(device.device_descriptor[index])
        if text:
            lines.append(f"A: {attribute}={text}")
    return "\n".join(lines) + "\n\n"


def _reader(stream: BinaryIO) -> Any:
    magic = stream.read(4)
    stream.seek(0)
    if magic == b"\x0a\x0d\x0d\x0a":
        return dpkt.pcapng.Reader(stream)
    return dpkt.pcap.Reader(stream)


def replayable_capture(source: Path, target: Path) -> UsbAddress:
    """Write ``source`` (usbmon pcap or pcapng) to ``target`` as a pcap umockdev replays;
    returns the bus and device address of the recorded device (of its first URB)."""
    with source.open("rb") as stream:
        reader = _reader(stream)
        if reader.datalink() != LINKTYPE_USB_LINUX_MMAPPED:
            raise ValueError(f"{source} is not a usbmon capture (link type {reader.datalink()})")
        records = [(ts, bytes(buf)) for ts, buf in reader]
    ended_early = set()
    for _ts, buf in records:
        urb_id, event, _xfer, _ep, _dev, _bus, _fs, _fd, _s, _us, status, *_ = _USBMON.unpack_from(
            buf
        )
        if chr(event) in "CE" and status in _NOT_COMPLETED:
            ended_early.add(urb_id)
    if not records:
        raise ValueError(f"{source} holds no USB transfers")
    first = _USBMON.unpack_from(records[0][1])
    with target.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=0x40000, linktype=LINKTYPE_USB_LINUX_MMAPPED)
        for ts, buf in records:
            if _USBMON.unpack_from(buf)[0] not in ended_early:
                writer.writepkt(buf, ts=ts)
    return UsbAddress(bus=first[5], devnum=first[4])


def umockdev_command(
    description: Path, address: UsbAddress, capture: Path, command: list[str]
) -> list[str]:
    """The ``umockdev-run`` command line that runs ``command`` against the replay."""
    return [
        "umockdev-run",
        "-d",
        str(description),
        "-p",
        f"{address.sysfs_path}={capture}",
        "--",
        *command,
    ]
