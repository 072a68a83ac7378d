"""Bluetooth capture files: the format an extension picks, btsnoop framing, and the
GATT-level sidecar written when the stack gives no HCI (the operating system's)."""

from __future__ import annotations

import io
import itertools
import struct
from datetime import UTC, datetime
from pathlib import Path

import dpkt
import pytest
from bumble.snoop import Snooper

from uploader.ble_capture import (
    BleCaptureFile,
    HciPacket,
    HciRecorder,
    capture_format,
    write_btsnoop,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("s.btsnoop", "btsnoop"),
        ("btsnoop_hci.log", "btsnoop"),
        ("S.PCAPNG", "pcapng"),
        ("s.pcap", "pcapng"),
    ],
)
def test_the_extension_picks_the_format(name: str, expected: str) -> None:
    assert capture_format(Path(name)) == expected


def test_an_explicit_format_wins_and_an_unknown_one_is_explained() -> None:
    assert capture_format(Path("x.pcapng"), "btsnoop") == "btsnoop"
    with pytest.raises(ValueError, match="--capture-format btsnoop\\|pcapng"):
        capture_format(Path("capture.txt"))
    with pytest.raises(ValueError, match="btsnoop or pcapng"):
        capture_format(Path("x.btsnoop"), "usbmon")


def test_btsnoop_records_say_direction_kind_and_time() -> None:
    moment = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
    micros = int(moment.timestamp()) * 1_000_000
    packets = [
        HciPacket(micros, False, bytes([0x01, 0x03, 0x0C, 0x00])),  # HCI Reset, sent
        HciPacket(micros + 1, True, bytes([0x04, 0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00])),
        HciPacket(micros + 2, True, bytes([0x02, 0x01, 0x20, 0x01, 0x00, 0x00])),  # ACL in
    ]
    out = io.BytesIO()
    write_btsnoop(out, packets)
    data = out.getvalue()
    assert data[:16] == b"btsnoop\0" + struct.pack(">II", 1, 1002)
    offset, flags, stamps = 16, [], []
    while offset < len(data):
        original, included, flag, _drops, stamp = struct.unpack(
            ">IIIIq", data[offset : offset + 24]
        )
        assert original == included
        flags.append(flag)
        stamps.append(stamp)
        offset += 24 + included
    assert flags == [0b10, 0b11, 0b01]  # command sent, event received, data received
    assert [b - a for a, b in itertools.pairwise(stamps)] == [1, 1]  # microseconds
    # (that tshark reads the absolute times right is checked in tests/e2e/test_ble_capture.py)


def test_a_recorder_keeps_packets_both_ways_up_to_its_limit() -> None:
    recorder = HciRecorder(limit=2)
    recorder.snoop(b"\x01\x03\x0c\x00", Snooper.Direction.HOST_TO_CONTROLLER)
    recorder.snoop(b"\x04\x0e\x01\x00", Snooper.Direction.CONTROLLER_TO_HOST)
    recorder.snoop(b"\x04\x0e\x01\x00", Snooper.Direction.CONTROLLER_TO_HOST)
    assert [p.received for p in recorder.packets] == [False, True]
    assert recorder.dropped == 1


def test_without_hci_the_gatt_operations_go_to_a_sidecar(tmp_path: Path) -> None:
    """Each GATT operation as its ATT PDU behind Wireshark's exported-PDU tags (link type 252:
    tag 12 names the ``btatt`` dissector, tag 0 ends them), with a comment naming it (that
    tshark decodes it is checked in tests/e2e/test_ble_capture.py)."""
    capture = BleCaptureFile(tmp_path / "phone.pcapng", "pcapng")
    capture.gatt("write", "00002a52-0000-1000-8000-00805f9b34fb", bytes([0x01, 0x01]))
    capture.gatt("notify", "00002a18-0000-1000-8000-00805f9b34fb", bytes([0x00, 0x2A]))
    capture.gatt("read", "00002a25-0000-1000-8000-00805f9b34fb", b"SN1")
    (written,) = capture.write()
    assert written == tmp_path / "phone.pcapng.gatt.pcapng"
    assert not (tmp_path / "phone.pcapng").exists()
    with written.open("rb") as stream:
        reader = dpkt.pcapng.Reader(stream)
        assert reader.datalink() == 252
        records = [bytes(buf) for _ts, buf in reader]
    tags = b"\x00\x0c\x00\x08btatt\x00\x00\x00" + b"\x00\x00\x00\x00"
    assert records == [
        tags + b"\x12\x00\x00\x01\x01",  # Write Request, handle unknown (0)
        tags + b"\x1b\x00\x00\x00\x2a",  # Handle Value Notification
        tags + b"\x0bSN1",  # Read Response
    ]
    raw = written.read_bytes()
    assert b"write 00002a52-0000-1000-8000-00805f9b34fb (uploader -> device)" in raw
    assert b"read 00002a25-0000-1000-8000-00805f9b34fb (device -> uploader)" in raw


def test_nothing_exchanged_writes_nothing(tmp_path: Path) -> None:
    assert BleCaptureFile(tmp_path / "x.btsnoop", "btsnoop").write() == []
    assert list(tmp_path.iterdir()) == []
