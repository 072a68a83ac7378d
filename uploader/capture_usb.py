"""USB captures as Linux usbmon pcap/pcapng files, as Wireshark writes and reads them.

``UrbRecorder`` is told every transfer the uploader makes through its pyusb backend (by
``uploader.capture.CapturingUsbBackend``) and keeps it as a URB: endpoint, transfer type,
setup packet, data, status and the times it was submitted and completed. ``write_usbmon``
writes them as link type 220 (LINKTYPE_USB_LINUX_MMAPPED): for each URB one Submit record
and one Complete record, each a 64-byte ``struct usbmon_packet`` (Linux
Documentation/usb/usbmon.rst, "mmapped" binary API; little-endian, as the host that
captures writes it) followed by the data, in a pcap file or in a pcapng file with one
interface of that link type. Wireshark and tshark decode these files as their own captures.

Errors are written as usbmon shows them: the URB status is the negative errno libusb
reported (-19 ENODEV: the device went away, -110 ETIMEDOUT, -32 EPIPE: a stall). The
Submit record's status is -EINPROGRESS, as the kernel's.
"""

from __future__ import annotations

import errno
import itertools
import struct
import threading
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, BinaryIO

import dpkt

LINKTYPE_USB_LINUX_MMAPPED = 220
USB_CAPTURE_FORMATS = ("pcap", "pcapng")

_USBMON_HEADER = struct.Struct("<QBBBBHBBqiiII8siiII")
"""struct usbmon_packet (64 bytes): id, type, xfer_type, epnum, devnum, busnum, flag_setup,
flag_data, ts_sec, ts_usec, status, length, len_cap, setup, interval, start_frame,
xfer_flags, ndesc."""

_SNAPLEN = 0x40000
_URB_ID_BASE = 0xFFFF_8880_0000_0000  # a kernel-looking address; only its uniqueness matters


class TransferType(IntEnum):
    """usbmon's xfer_type (the same numbering as USBPcap's ``transfer`` field)."""

    ISOCHRONOUS = 0
    INTERRUPT = 1
    CONTROL = 2
    BULK = 3


@dataclass
class Urb:
    """One transfer, from its submission to its completion."""

    urb_id: int
    transfer_type: TransferType
    endpoint: int
    """The endpoint address with its direction bit (0x80 for IN; control: by bmRequestType)."""
    bus: int
    devnum: int
    setup: bytes | None
    """The 8-byte setup packet of a control transfer."""
    requested: int
    """wLength of a control transfer, the buffer size of an IN, the data length of an OUT."""
    out_data: bytes
    submitted: float
    completed: float = 0.0
    status: int = 0
    """0, or the negative errno the transfer failed with."""
    in_data: bytes = b""
    actual: int = 0
    """Bytes that crossed the cable (sent for OUT, received for IN)."""

    @property
    def is_in(self) -> bool:
        return bool(self.endpoint & 0x80)


@dataclass
class UrbRecorder:
    """Every URB the uploader made, in order of completion; stops after ``limit`` URBs."""

    limit: int = 100_000
    urbs: list[Urb] = field(default_factory=list)
    dropped: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(_URB_ID_BASE, 0x40))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _locations: dict[int, tuple[int, int]] = field(default_factory=dict)
    _described: set[tuple[int, int]] = field(default_factory=set)

    def opened(self, handle: Any, bus: int | None, devnum: int | None) -> bool:
        """A device handle was opened at ``bus``/``devnum``; True the first time that address
        is seen (the caller then records the device's descriptors once)."""
        where = (int(bus or 0), int(devnum or 0))
        with self._lock:
            self._locations[id(handle)] = where
            first = where not in self._described
            self._described.add(where)
        return first

    def begin(
        self,
        handle: Any,
        transfer_type: TransferType,
        endpoint: int,
        *,
        setup: bytes | None = None,
        out_data: bytes = b"",
        requested: int = 0,
    ) -> Urb:
        bus, devnum = self._locations.get(id(handle), (0, 0))
        return Urb(
            urb_id=next(self._ids),
            transfer_type=transfer_type,
            endpoint=endpoint,
            bus=bus,
            devnum=devnum,
            setup=setup,
            requested=requested,
            out_data=out_data,
            submitted=time.time(),
        )

    def end(self, urb: Urb, *, in_data: bytes = b"", error_errno: int | None = None) -> None:
        """The URB completed: with ``in_data`` (IN), or failed with ``error_errno``."""
        urb.completed = time.time()
        if error_errno is not None:
            urb.status = -abs(error_errno) if error_errno else -errno.EIO
        elif urb.is_in:
            urb.in_data, urb.actual = in_data, len(in_data)
        else:
            urb.actual = len(urb.out_data)
        with self._lock:
            if len(self.urbs) >= self.limit:
                self.dropped += 1
                return
            self.urbs.append(urb)


def setup_packet(request_type: int, request: int, value: int, index: int, length: int) -> bytes:
    """The 8-byte SETUP packet of a control transfer (USB 2.0, 9.3)."""
    return struct.pack("<BBHHH", request_type, request, value, index, length)


def _record(urb: Urb, event: str, ts: float, interval: int) -> bytes:
    submit = event == "S"
    if submit:
        data = b"" if urb.is_in else urb.out_data
        length = urb.requested if urb.is_in else len(urb.out_data)
        status = -errno.EINPROGRESS
        setup = urb.setup
    else:
        data = urb.in_data if urb.is_in else b""
        length = urb.actual
        status = urb.status
        setup = None
    # flag_data: 0 when data follows, '<' for an IN still waiting, '>' for none to show
    flag_data = 0 if data else ord("<") if submit and urb.is_in else ord(">")
    sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
    header = _USBMON_HEADER.pack(
        urb.urb_id,
        ord(event),
        int(urb.transfer_type),
        urb.endpoint & 0xFF,
        urb.devnum & 0xFF,
        urb.bus & 0xFFFF,
        0 if setup is not None else ord("-"),
        flag_data,
        sec,
        usec,
        status,
        length,
        len(data),
        setup if setup is not None else bytes(8),
        interval,
        -1 if urb.transfer_type is TransferType.ISOCHRONOUS else 0,
        0,
        0,
    )
    return header + data


def usbmon_records(urbs: list[Urb]) -> list[tuple[float, bytes]]:
    """(timestamp, record) pairs: Submit then Complete for every URB, in time order."""
    records: list[tuple[float, bytes]] = []
    for urb in urbs:
        interval = 1 if urb.transfer_type is TransferType.INTERRUPT else 0
        records.append((urb.submitted, _record(urb, "S", urb.submitted, interval)))
        completed = max(urb.completed, urb.submitted)
        records.append((completed, _record(urb, "C", completed, interval)))
    return records


def write_usbmon(urbs: list[Urb], out: BinaryIO, file_format: str = "pcap") -> None:
    """Write ``urbs`` as a usbmon capture: ``pcap`` or ``pcapng``."""
    writer: Any
    if file_format == "pcapng":
        writer = dpkt.pcapng.Writer(out, snaplen=_SNAPLEN, linktype=LINKTYPE_USB_LINUX_MMAPPED)
    elif file_format == "pcap":
        writer = dpkt.pcap.Writer(
            out, snaplen=_SNAPLEN, linktype=LINKTYPE_USB_LINUX_MMAPPED, nano=False
        )
    else:
        raise ValueError(f"unknown USB capture format {file_format!r}")
    for ts, record in usbmon_records(urbs):
        writer.writepkt(record, ts=ts)
