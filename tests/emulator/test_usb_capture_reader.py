"""The device side's reading of USB captures, from hand-built records (not the uploader's
writer): usbmon with URBs overlapping as libusb's asynchronous reads make them, the older
48-byte usbmon header, USBPcap control stages, errors; and the replayed device's answers to
reads that differ from the recording."""

from __future__ import annotations

import errno
import struct
from pathlib import Path
from typing import Any

import dpkt
import pytest

from emulator.replay.usb_capture import (
    BULK,
    CONTROL,
    INTERRUPT,
    CaptureFormatError,
    read_usb_capture,
)
from emulator.replay.usb_device import ReplayUsbDevice
from emulator.usb import descriptors as d
from emulator.usb.device import DeviceGone, TransferTimedOut

DEVICE = d.device_descriptor(0x1A79, 0x7410)
CONFIG = d.configuration_descriptor(
    1,
    d.interface_descriptor(0, 0, 2, interface_class=0x03)
    + d.endpoint_descriptor(0x81, d.EP_TYPE_INTERRUPT, 64, 1)
    + d.endpoint_descriptor(0x01, d.EP_TYPE_INTERRUPT, 64, 1),
    num_interfaces=1,
)


def usbmon(
    urb: int,
    kind: str,
    xfer: int,
    ep: int,
    data: bytes = b"",
    status: int = 0,
    setup: bytes | None = None,
    mmapped: bool = True,
) -> bytes:
    header = struct.pack(
        "<QBBBBHBBqiiII8s",
        urb, ord(kind), xfer, ep, 5, 3, 0 if setup else ord("-"), 0 if data else ord("<"),
        1_700_000_000, 0, status, len(data), len(data), setup or bytes(8),
    )  # fmt: skip
    return header + (bytes(16) if mmapped else b"") + data


def write(path: Path, linktype: int, records: list[bytes]) -> Path:
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=linktype, snaplen=65535)
        for i, record in enumerate(records):
            writer.writepkt(record, ts=1_700_000_000 + i / 1000)
    return path


def enumeration(mmapped: bool = True) -> list[bytes]:
    get_device = struct.pack("<BBHHH", 0x80, 6, 0x0100, 0, 18)
    get_config = struct.pack("<BBHHH", 0x80, 6, 0x0200, 0, len(CONFIG))
    return [
        usbmon(1, "S", CONTROL, 0x80, setup=get_device, mmapped=mmapped, status=-115),
        usbmon(1, "C", CONTROL, 0x80, DEVICE, mmapped=mmapped),
        usbmon(2, "S", CONTROL, 0x80, setup=get_config, mmapped=mmapped, status=-115),
        usbmon(2, "C", CONTROL, 0x80, CONFIG, mmapped=mmapped),
    ]


@pytest.mark.parametrize(("linktype", "mmapped"), [(220, True), (189, False)])
def test_overlapping_urbs_are_ordered_by_completion(
    tmp_path: Path, linktype: int, mmapped: bool
) -> None:
    records = [
        *enumeration(mmapped),
        usbmon(7, "S", INTERRUPT, 0x81, mmapped=mmapped, status=-115),  # a read waits...
        usbmon(8, "S", INTERRUPT, 0x01, b"\x04ping", mmapped=mmapped, status=-115),
        usbmon(8, "C", INTERRUPT, 0x01, mmapped=mmapped),
        usbmon(7, "C", INTERRUPT, 0x81, b"\x04pong", mmapped=mmapped),  # ...answered after
    ]
    capture = read_usb_capture(write(tmp_path / "async.pcap", linktype, records))
    out, inn = capture.transfers[2:]
    assert (out.endpoint, out.out_data, out.frames) == (0x01, b"\x04ping", (6, 7))
    assert (inn.endpoint, inn.in_data, inn.frames, inn.status) == (0x81, b"\x04pong", (5, 8), 0)
    assert (inn.bus, inn.device) == (3, 5) and capture.devices() == [(3, 5)]

    device = ReplayUsbDevice(capture)
    device.attach(1, 2, 1)
    assert device.write_out(0x01, b"\x04ping") == 5
    assert device.read_in(0x81, 64, 1000) == b"\x04pong"


def test_usbpcap_control_stages_and_errors(tmp_path: Path) -> None:
    def packet(irp: int, info: int, xfer: int, ep: int, data: bytes, stage: int | None = None,
               status: int = 0) -> bytes:  # fmt: skip
        extra = b"" if stage is None else bytes([stage])
        header = struct.pack(
            "<HQIHBHHBBI", 27 + len(extra), irp, status, 8, info, 1, 4, ep, xfer, len(data)
        )
        return header + extra + data

    get_device = struct.pack("<BBHHH", 0x80, 6, 0x0100, 0, 18)
    records = [
        packet(1, 0, CONTROL, 0x80, get_device, stage=0),  # SETUP
        packet(1, 1, CONTROL, 0x80, DEVICE, stage=1),  # DATA, from the device
        packet(1, 1, CONTROL, 0x80, b"", stage=2),  # STATUS: the same transfer
        packet(2, 0, BULK, 0x02, b"abc"),
        packet(2, 1, BULK, 0x02, b"", status=0xC0000004),  # USBD_STATUS_STALL_PID
        packet(3, 0, BULK, 0x82, b""),
        packet(3, 1, BULK, 0x82, b"", status=0xC0007000),  # USBD_STATUS_DEVICE_GONE
    ]
    capture = read_usb_capture(write(tmp_path / "windows.pcap", 249, records))
    assert capture.source == "USBPcap (Windows)"
    control, stalled, gone = capture.transfers
    assert control.request == (0x80, 6, 0x0100, 0, 18) and control.in_data == DEVICE
    assert control.frames == (1, 2)
    assert (stalled.out_data, stalled.status) == (b"abc", -errno.EPIPE)
    assert (gone.endpoint, gone.status) == (0x82, -errno.ENODEV)


def test_replayed_errors_and_reads_the_recording_does_not_have(tmp_path: Path) -> None:
    records = [
        *enumeration(),
        usbmon(9, "S", INTERRUPT, 0x81, status=-115),
        usbmon(9, "C", INTERRUPT, 0x81, status=-errno.ENOENT),  # unlinked: libusb's timeout
        usbmon(10, "S", INTERRUPT, 0x01, b"\x05", status=-115),
        usbmon(10, "C", INTERRUPT, 0x01),
        usbmon(11, "S", INTERRUPT, 0x81, status=-115),
        usbmon(11, "C", INTERRUPT, 0x81, status=-errno.ENODEV),
    ]
    capture = read_usb_capture(write(tmp_path / "session.pcap", 220, records))
    device = ReplayUsbDevice(capture)
    assert device.kernel_driver == "usbhid"  # a HID interface, as Linux binds it
    device.attach(1, 2, 1)
    with pytest.raises(TransferTimedOut):
        device.read_in(0x81, 64, 1000)
    with pytest.raises(DeviceGone):  # the host reads where the recording has it write
        device.read_in(0x81, 64, 1000)
    divergence = device.divergence
    assert divergence is not None and divergence.request_number == 2
    assert divergence.transfer is not None and divergence.transfer.out_data == b"\x05"
    assert "the recording has OUT 0x01 here" in divergence.describe()
    assert not device.connected  # the replay stopped there


def test_files_that_are_not_usb_captures(tmp_path: Path) -> None:
    ethernet = write(tmp_path / "net.pcap", 1, [bytes(60)])
    with pytest.raises(CaptureFormatError, match="link type 1, not a USB capture"):
        read_usb_capture(ethernet)
    text = tmp_path / "notes.pcap"
    text.write_text("hello")
    with pytest.raises(CaptureFormatError, match="not a pcap or pcapng"):
        read_usb_capture(text)


@pytest.mark.parametrize("pcapng", [False, True])
def test_a_capture_cut_short_says_so(tmp_path: Path, pcapng: bool) -> None:
    """A capture copied halfway (or written by an uploader that was killed) is named as cut
    short, with the records it does hold, not as a file of another kind."""
    records = [usbmon(7, "S", INTERRUPT, 0x81), usbmon(7, "C", INTERRUPT, 0x81, b"\x01" * 64)]
    whole = tmp_path / "whole.pcap"
    with whole.open("wb") as out:
        writer: Any = (dpkt.pcapng.Writer if pcapng else dpkt.pcap.Writer)(
            out, linktype=220, snaplen=65535
        )
        for i, record in enumerate(records):
            writer.writepkt(record, ts=1_700_000_000 + i / 1000)
    assert len(read_usb_capture(whole).transfers) == 1
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:-20])
    with pytest.raises(CaptureFormatError, match="cut short: it ends inside record 2, after 1 "):
        read_usb_capture(cut)
