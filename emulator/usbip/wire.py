"""USB/IP wire format, device side (Linux Documentation/usb/usbip_protocol.rst, v1.1.1).

Every header field is big-endian; the 8-byte SETUP packet inside CMD_SUBMIT is passed
through as it travels on the USB wire (little-endian). Operations (DEVLIST, IMPORT) use an
8-byte common header; the URB phase uses 48-byte headers (a 20-byte basic header and 28
bytes that depend on the command).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

VERSION = 0x0111
OP_REQ_DEVLIST, OP_REP_DEVLIST = 0x8005, 0x0005
OP_REQ_IMPORT, OP_REP_IMPORT = 0x8003, 0x0003
CMD_SUBMIT, CMD_UNLINK, RET_SUBMIT, RET_UNLINK = 1, 2, 3, 4
DIR_OUT, DIR_IN = 0, 1

# OP_REP_IMPORT / OP_REP_DEVLIST status (tools/usb/usbip/libsrc/usbip_common.h)
ST_OK, ST_NA, ST_DEV_BUSY, ST_DEV_ERR, ST_NODEV, ST_ERROR = 0, 1, 2, 3, 4, 5

NON_ISO = 0xFFFFFFFF
"""number_of_packets of a transfer that is not isochronous."""

OP_HEADER = struct.Struct(">HHI")  # version, code, status
USB_DEVICE = struct.Struct(">256s32sIIIHHHBBBBBB")  # 312 bytes
USB_INTERFACE = struct.Struct(">BBBx")
URB_HEADER = struct.Struct(">IIIIIiiiii8s")  # 48 bytes
BUSID_SIZE = 32


class PeerClosed(ConnectionError):
    """The other end closed the TCP connection."""


RECV_CHUNK = 65536
"""Largest single read: memory grows with the bytes that arrive, never with a claimed size."""

MAX_TRANSFER = 1 << 20
"""Largest OUT transfer the server takes; a longer claim is out of step (no device here
takes more than a few kilobytes at once)."""


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``sock``; ``PeerClosed`` if the connection ends first."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(min(size - len(buffer), RECV_CHUNK))
        if not chunk:
            raise PeerClosed("the USB/IP peer closed the connection")
        buffer += chunk
    return bytes(buffer)


def op_header(code: int, status: int = ST_OK) -> bytes:
    return OP_HEADER.pack(VERSION, code, status)


@dataclass(frozen=True)
class ExportedDevice:
    """What OP_REP_DEVLIST and OP_REP_IMPORT say about one device."""

    path: str
    busid: str
    busnum: int
    devnum: int
    speed: int
    id_vendor: int
    id_product: int
    bcd_device: int
    device_class: int
    device_subclass: int
    device_protocol: int
    configuration_value: int
    num_configurations: int
    interfaces: tuple[tuple[int, int, int], ...]
    """(class, subclass, protocol) of each interface of the current configuration."""

    def pack(self) -> bytes:
        return USB_DEVICE.pack(
            self.path.encode(),
            self.busid.encode(),
            self.busnum,
            self.devnum,
            self.speed,
            self.id_vendor,
            self.id_product,
            self.bcd_device,
            self.device_class,
            self.device_subclass,
            self.device_protocol,
            self.configuration_value,
            self.num_configurations,
            len(self.interfaces),
        )

    def pack_with_interfaces(self) -> bytes:
        return self.pack() + b"".join(USB_INTERFACE.pack(*i) for i in self.interfaces)


@dataclass(frozen=True)
class UrbCommand:
    """A CMD_SUBMIT or CMD_UNLINK from the host (``unlink_seqnum`` only for CMD_UNLINK)."""

    command: int
    seqnum: int
    devid: int
    direction: int
    endpoint: int
    transfer_flags: int
    length: int
    interval: int
    setup: bytes

    @property
    def unlink_seqnum(self) -> int:
        return self.transfer_flags & 0xFFFFFFFF  # CMD_UNLINK carries it in that slot


def parse_command(header: bytes) -> UrbCommand:
    (command, seqnum, devid, direction, endpoint, flags, length, _start, _npk, interval, setup) = (
        URB_HEADER.unpack(header)
    )
    return UrbCommand(command, seqnum, devid, direction, endpoint, flags, length, interval, setup)


def ret_submit(seqnum: int, status: int, data: bytes = b"", actual: int | None = None) -> bytes:
    """RET_SUBMIT: ``status`` 0 or a negative errno; IN ``data`` follows the header."""
    actual_length = len(data) if actual is None else actual
    header = URB_HEADER.pack(RET_SUBMIT, seqnum, 0, 0, 0, status, actual_length, 0, -1, 0, bytes(8))
    return header + data


def ret_unlink(seqnum: int, status: int) -> bytes:
    """RET_UNLINK: -ECONNRESET when the URB was cancelled, 0 when it had completed."""
    return URB_HEADER.pack(RET_UNLINK, seqnum, 0, 0, 0, status, 0, 0, 0, 0, bytes(8))
