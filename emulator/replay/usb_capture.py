"""USB capture files read into one sequence of transfers (the device side's own decoding).

Two capture sources, each in a pcap or pcapng file:

- Linux usbmon (link type 220, LINKTYPE_USB_LINUX_MMAPPED, 64-byte header; and 189,
  LINKTYPE_USB_LINUX, its 48-byte ancestor): ``struct usbmon_packet`` from the kernel's
  Documentation/usb/usbmon.rst. A Submit ('S') and a Complete ('C') record share the URB id;
  control Submits carry the 8-byte setup packet; the status is a negative errno.
- Windows USBPcap (link type 249, LINKTYPE_USBPCAP): the packed
  ``USBPCAP_BUFFER_PACKET_HEADER`` (headerLen, irpId, USBD status, URB function, info with
  bit 0 set on the way back from the device, bus, device, endpoint, transfer, dataLength),
  one more byte (the stage) for control transfers, then the data. A request going down and
  its completion coming back share the irpId; a control transfer is its SETUP stage, an
  optional OUT DATA stage, and the completion (DATA, STATUS or COMPLETE stage).

Either way the result is the same ``Transfer`` list, in the order the transfers completed,
with errors as negative errnos (USBD statuses mapped to the errno libusb would report).
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt

from emulator.replay.truncation import PCAPNG_MAGIC, cut_short_message, pcap_cut_short

LINKTYPE_USB_LINUX = 189
LINKTYPE_USB_LINUX_MMAPPED = 220
LINKTYPE_USBPCAP = 249
USB_LINK_TYPES = (LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED, LINKTYPE_USBPCAP)

ISOCHRONOUS, INTERRUPT, CONTROL, BULK = 0, 1, 2, 3
TRANSFER_NAMES = {
    ISOCHRONOUS: "isochronous",
    INTERRUPT: "interrupt",
    CONTROL: "control",
    BULK: "bulk",
}

_USBMON = struct.Struct("<QBBBBHBBqiiII8s")  # the first 48 bytes, common to 189 and 220
_USBPCAP = struct.Struct("<HQIHBHHBBI")  # 27 bytes, packed

# USBD_STATUS values (Windows usb.h) and the errno libusb reports for them.
_USBD_ERRNO = {
    0xC0000004: errno.EPIPE,  # USBD_STATUS_STALL_PID
    0xC0007000: errno.ENODEV,  # USBD_STATUS_DEVICE_GONE
    0xC0010000: errno.ETIMEDOUT,  # USBD_STATUS_CANCELED: libusb cancels a timed-out IRP
    0xC0000030: errno.EPIPE,  # USBD_STATUS_ENDPOINT_HALTED
}
USBD_STATUS_FOR_ERRNO = {
    errno.EPIPE: 0xC0000004,
    errno.ENODEV: 0xC0007000,
    errno.ETIMEDOUT: 0xC0010000,
}
USBD_STATUS_XACT_ERROR = 0xC0000011


class CaptureFormatError(Exception):
    """The file is not a USB capture this reader understands; the message says why."""


@dataclass(frozen=True)
class Transfer:
    """One USB transfer, from submission to completion."""

    number: int
    """1-based position in the capture's sequence of transfers."""
    frames: tuple[int, ...]
    """The capture's frame numbers (1-based, as Wireshark numbers them) of its records."""
    transfer_type: int
    endpoint: int
    """Endpoint address with the direction bit (control: 0x80 for a device-to-host request)."""
    bus: int
    device: int
    setup: bytes | None
    out_data: bytes
    in_data: bytes
    status: int
    """0, or a negative errno (-19 ENODEV, -110 ETIMEDOUT, -32 EPIPE...)."""

    @property
    def is_in(self) -> bool:
        return bool(self.endpoint & 0x80)

    @property
    def request(self) -> tuple[int, int, int, int, int] | None:
        """(bmRequestType, bRequest, wValue, wIndex, wLength) of a control transfer."""
        if self.setup is None or len(self.setup) < 8:
            return None
        values: tuple[int, int, int, int, int] = struct.unpack("<BBHHH", self.setup[:8])
        return values

    def describe(self) -> str:
        direction = "IN" if self.is_in else "OUT"
        kind = TRANSFER_NAMES.get(self.transfer_type, str(self.transfer_type))
        frames = "-".join(str(f) for f in (self.frames[0], self.frames[-1]) if f) or "?"
        return (
            f"transfer {self.number} (capture frames {frames}): {kind} {direction} "
            f"endpoint 0x{self.endpoint:02x}"
        )


@dataclass(frozen=True)
class UsbCapture:
    """A capture file's transfers, and what kind of capture it was."""

    path: str
    link_type: int
    transfers: tuple[Transfer, ...]

    @property
    def source(self) -> str:
        return "USBPcap (Windows)" if self.link_type == LINKTYPE_USBPCAP else "usbmon (Linux)"

    def devices(self) -> list[tuple[int, int]]:
        """(bus, address) of every device with transfers, most active first."""
        counts: dict[tuple[int, int], int] = {}
        for t in self.transfers:
            weight = 100 if t.transfer_type in (INTERRUPT, BULK) else 1
            counts[(t.bus, t.device)] = counts.get((t.bus, t.device), 0) + weight
        return sorted(counts, key=lambda key: -counts[key])


def _packets(path: Path) -> tuple[int, list[bytes]]:
    packets: list[bytes] = []
    reader: Any = None
    try:
        with path.open("rb") as stream:
            magic = stream.read(4)
            stream.seek(0)
            reader = (
                dpkt.pcapng.Reader(stream) if magic == PCAPNG_MAGIC else dpkt.pcap.Reader(stream)
            )
            packets.extend(bytes(buf) for _ts, buf in reader)
            whole = None if magic == PCAPNG_MAGIC else pcap_cut_short(path.read_bytes())
            if whole is not None:  # dpkt hands over a cut last record as if it were whole
                raise CaptureFormatError(cut_short_message(path, whole))
            return int(reader.datalink()), packets
    except OSError as exc:
        raise CaptureFormatError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    except (ValueError, struct.error, dpkt.Error) as exc:
        if reader is not None:  # the file header was fine: the file stops inside a record
            raise CaptureFormatError(cut_short_message(path, len(packets))) from exc
        raise CaptureFormatError(
            f"{path} is not a pcap or pcapng capture file ({exc or type(exc).__name__})"
        ) from exc


def link_type(path: Path) -> int:
    """The link type of a pcap/pcapng file (raises ``CaptureFormatError``)."""
    return _packets(path)[0]


def read_usb_capture(path: str | Path) -> UsbCapture:
    """Every completed transfer in a usbmon or USBPcap capture, in order of completion."""
    path = Path(path)
    linktype, packets = _packets(path)
    if linktype in (LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED):
        header = 64 if linktype == LINKTYPE_USB_LINUX_MMAPPED else 48
        transfers = _usbmon(packets, header)
    elif linktype == LINKTYPE_USBPCAP:
        transfers = _usbpcap(packets)
    else:
        raise CaptureFormatError(
            f"{path} has link type {linktype}, not a USB capture (usbmon 220 or 189, USBPcap 249)"
        )
    return UsbCapture(str(path), linktype, tuple(transfers))


@dataclass
class _Open:
    frames: list[int]
    transfer_type: int
    endpoint: int
    bus: int
    device: int
    setup: bytes | None
    out_data: bytes


def _finish(done: list[Transfer], pending: _Open, frame: int, in_data: bytes, status: int) -> None:
    done.append(
        Transfer(
            number=len(done) + 1,
            frames=(*pending.frames, frame),
            transfer_type=pending.transfer_type,
            endpoint=pending.endpoint,
            bus=pending.bus,
            device=pending.device,
            setup=pending.setup,
            out_data=pending.out_data,
            in_data=in_data if pending.endpoint & 0x80 else b"",
            status=status,
        )
    )


def _usbmon(packets: list[bytes], header: int) -> list[Transfer]:
    done: list[Transfer] = []
    pending: dict[int, _Open] = {}
    for frame, buf in enumerate(packets, start=1):
        if len(buf) < header:
            raise CaptureFormatError(f"frame {frame} is shorter than a usbmon header")
        (urb_id, kind, xfer, ep, dev, bus, flag_setup, _fd, _s, _us, status, _len, cap, setup) = (
            _USBMON.unpack_from(buf)
        )
        data = buf[header : header + cap]
        if kind == ord("S"):
            pending[urb_id] = _Open(
                [frame], xfer, ep, bus, dev, setup if flag_setup == 0 else None,
                b"" if ep & 0x80 else data,
            )  # fmt: skip
        elif kind == ord("C"):
            opened = pending.pop(urb_id, _Open([], xfer, ep, bus, dev, None, b""))
            _finish(done, opened, frame, data, status)
        # 'E' (submission error) records end the URB too
        elif kind == ord("E"):
            opened = pending.pop(urb_id, _Open([], xfer, ep, bus, dev, None, b""))
            _finish(done, opened, frame, b"", status)
    return done


def _usbd_errno(status: int) -> int:
    if status == 0:
        return 0
    return -_USBD_ERRNO.get(status, errno.EIO)


def _usbpcap(packets: list[bytes]) -> list[Transfer]:
    done: list[Transfer] = []
    pending: dict[int, _Open] = {}
    finished: set[int] = set()
    for frame, buf in enumerate(packets, start=1):
        if len(buf) < _USBPCAP.size:
            raise CaptureFormatError(f"frame {frame} is shorter than a USBPcap header")
        (length, irp, status, _function, info, bus, dev, ep, xfer, data_len) = _USBPCAP.unpack_from(
            buf
        )
        stage = buf[_USBPCAP.size] if xfer == CONTROL and length > _USBPCAP.size else None
        data = buf[length : length + data_len]
        from_device = bool(info & 0x01)
        if not from_device:
            if xfer == CONTROL and stage == 0:  # SETUP: a new control transfer
                direction = data[0] & 0x80 if data else 0
                pending[irp] = _Open([frame], xfer, direction, bus, dev, data[:8], b"")
                finished.discard(irp)
            elif xfer == CONTROL and irp in pending:  # DATA stage of an OUT request
                pending[irp].out_data += data
                pending[irp].frames.append(frame)
            elif xfer != CONTROL:
                pending[irp] = _Open([frame], xfer, ep, bus, dev, None, b"" if ep & 0x80 else data)
                finished.discard(irp)
            continue
        opened = pending.pop(irp, None)
        if opened is None:
            if irp in finished:  # the STATUS stage after a control DATA stage
                continue
            opened = _Open([], xfer, ep, bus, dev, None, b"")
        finished.add(irp)
        _finish(done, opened, frame, data, _usbd_errno(status))
    return done
