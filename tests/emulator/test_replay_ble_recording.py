"""The replay's own reading of an HCI capture, on packets built here from the Core spec:
legacy advertising reports (as BlueZ and Android controllers send them), a connection,
ATT fragmented over two ACL packets, discovery, reads, writes, a write command, a
notification and an ATT error; written as btsnoop and as pcapng and read back."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import dpkt
import pytest
from bumble.core import UUID

from emulator.ble import Air
from emulator.replay.att_recording import Sent, att_recording
from emulator.replay.ble_replay import BleReplay
from emulator.replay.hci_capture import CaptureError, HciPacket, decode, read_capture

if TYPE_CHECKING:
    from tests.emulator.conftest import Central

PEER = bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0xC6])  # C6:05:04:03:02:01, little-endian
HANDLE = 0x0040


def le_meta(subevent: int, parameters: bytes) -> bytes:
    body = bytes([subevent]) + parameters
    return bytes([0x04, 0x3E, len(body)]) + body


def adv_report(event_type: int, data: bytes) -> bytes:
    report = bytes([event_type, 0x01]) + PEER + bytes([len(data)]) + data + bytes([0xC4])
    return le_meta(0x02, bytes([1]) + report)


def acl(payload: bytes, cid: int = 0x0004, split: int | None = None) -> list[bytes]:
    """An L2CAP frame as one ACL packet, or two (start, continuation) cut at ``split``."""
    frame = struct.pack("<HH", len(payload), cid) + payload
    parts = [frame] if split is None else [frame[:split], frame[split:]]
    packets = []
    for index, part in enumerate(parts):
        flags = 0b10 if index == 0 else 0b01
        packets.append(bytes([0x02]) + struct.pack("<HH", HANDLE | flags << 12, len(part)) + part)
    return packets


def long_read(value: bytes, part: int = 22) -> list[tuple[bool, bytes]]:
    """A Read Request answered in parts: Read Response, then Read Blob Requests/Responses."""
    flow = [(False, acl(b"\x0a\x03\x00")[0]), (True, acl(b"\x0b" + value[:part])[0])]
    for offset in range(part, len(value) + 1, part):
        flow.append((False, acl(b"\x0c\x03\x00" + struct.pack("<H", offset))[0]))
        flow.append((True, acl(b"\x0d" + value[offset : offset + part])[0]))
    return flow


def session(long_value: bytes | None = None, dropped: bool = False) -> list[HciPacket]:
    host, device = False, True
    connected = le_meta(
        0x01, bytes([0x00]) + struct.pack("<H", HANDLE) + b"\x00\x01" + PEER + bytes(7)
    )
    flow: list[tuple[bool, bytes]] = [
        (device, adv_report(0x00, b"\x02\x01\x06\x03\x03\x0f\x18")),  # flags, Battery Service
        (device, adv_report(0x04, b"\x05\x09Cell")),  # scan response: the name
        (device, connected),
        (host, acl(b"\x01\x03\x00\x00\x00\x00\x00", cid=0x0006)[0]),  # SMP Pairing Request
        (host, acl(b"\x10\x01\x00\xff\xff\x00\x28")[0]),
        (device, acl(b"\x11\x06\x01\x00\x05\x00\x0f\x18")[0]),
        (host, acl(b"\x08\x01\x00\x05\x00\x03\x28")[0]),
        (device, acl(b"\x09\x07\x02\x00\x12\x03\x00\x19\x2a")[0]),
        (host, acl(b"\x04\x04\x00\x05\x00")[0]),
        (device, acl(b"\x05\x01\x04\x00\x02\x29")[0]),
        *(
            long_read(long_value)
            if long_value is not None
            else [
                (host, acl(b"\x0a\x03\x00")[0]),
                *[(device, p) for p in acl(b"\x0b\x64\x00\x00", split=5)],  # in 2 fragments
            ]
        ),
        (host, acl(b"\x12\x04\x00\x01\x00")[0]),
        (device, acl(b"\x13")[0]),
        (device, acl(b"\x1b\x03\x00\x63")[0]),
        (host, acl(b"\x52\x03\x00\xaa")[0]),
        (host, acl(b"\x0a\x03\x00")[0]),
        (device, acl(b"\x01\x0a\x03\x00\x05")[0]),  # Insufficient Authentication
    ]
    if dropped:  # Disconnection Complete, reason 0x08 (timeout), the host never asked
        flow.append((device, bytes([0x04, 0x05, 0x04, 0x00]) + struct.pack("<H", HANDLE) + b"\x08"))
    return [HciPacket(received, h4) for received, h4 in flow]


def test_the_recording_has_the_device_its_database_and_its_exchanges() -> None:
    capture = decode(session(dropped=True))
    assert capture.connected_to == [("C6:05:04:03:02:01", True)]
    advertised = capture.advertising["C6:05:04:03:02:01"]
    assert advertised.advertising_data.endswith(b"\x0f\x18")
    assert advertised.scan_response == b"\x05\x09Cell"

    recording = att_recording(capture)
    assert recording.paired
    (service,) = recording.services
    assert (service.handle, service.end, service.uuid) == (1, 5, "180f")
    (level,) = service.characteristics
    assert (level.declaration, level.handle, level.uuid, level.properties) == (2, 3, "2a19", 0x12)
    assert [(d.handle, d.uuid) for d in level.descriptors] == [(4, "2902")]

    shown = [
        (e.number, e.kind, recording.key(e.handle), e.value.hex(), e.error, len(e.then))
        for e in recording.exchanges
    ]
    assert shown == [
        (1, "read", "2a19", "640000", None, 0),  # reassembled from two ACL fragments
        (2, "write", "2a19/2902", "0100", None, 1),
        (3, "write-command", "2a19", "aa", None, 0),
        (4, "read", "2a19", "", 0x05, 1),
    ]
    assert recording.exchanges[1].then[0].value == b"\x63"
    assert recording.exchanges[3].then == [Sent("drop", 0, b"\x08")]  # the device left
    assert not recording.pairing_refused
    assert recording.name(4) == "handle 0x0004 (UUID 2a19 / 2902)"


def capture_files(tmp_path: Path, packets: list[HciPacket]) -> list[Path]:
    """``packets`` as btsnoop, pcapng and pcap files."""
    snoop = tmp_path / "s.btsnoop"
    with snoop.open("wb") as out:
        out.write(b"btsnoop\0" + struct.pack(">II", 1, 1002))
        for p in packets:
            out.write(struct.pack(">IIIIq", len(p.h4), len(p.h4), int(p.received), 0, 0) + p.h4)
    files = [snoop]
    for name, writer_class in (("s.pcapng", dpkt.pcapng.Writer), ("s.pcap", dpkt.pcap.Writer)):
        files.append(tmp_path / name)
        with files[-1].open("wb") as out:
            writer = writer_class(out, linktype=201)
            for p in packets:
                writer.writepkt(struct.pack(">I", int(p.received)) + p.h4, ts=0.0)
    return files


def test_btsnoop_and_pcapng_files_read_back_the_same(tmp_path: Path) -> None:
    packets = session()
    for path in capture_files(tmp_path, packets):
        assert read_capture(path).packets == packets


@pytest.mark.parametrize("cut", [3, 30])  # inside the last record: its data; its header too
def test_a_capture_cut_short_is_refused_as_such(tmp_path: Path, cut: int) -> None:
    """A file copied halfway would replay a last packet the device never sent in full."""
    packets = session()
    for path in capture_files(tmp_path, packets):
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) - cut])  # the last packet is 14 bytes of H4
        expected = f"cut short: it ends inside record {len(packets)}, after {len(packets) - 1} "
        with pytest.raises(CaptureError, match=expected):
            read_capture(path)


def test_a_capture_of_something_else_is_refused_with_its_link_type(tmp_path: Path) -> None:
    usb = tmp_path / "usb.pcap"
    with usb.open("wb") as out:
        dpkt.pcap.Writer(out, linktype=220).writepkt(bytes(64), ts=0.0)
    with pytest.raises(CaptureError, match="link type 220"):
        read_capture(usb)


@pytest.mark.anyio
async def test_the_replay_answers_a_plain_bumble_central_as_recorded(
    air: Air, central: Central
) -> None:
    """Served to a central that is not the uploader (ATT MTU 23): a 300-byte value over Read
    Blob, a subscription and its recorded notification, a write, a recorded ATT error."""
    value = bytes(range(256)) + bytes(44)
    capture = decode(session(long_value=value))
    recording = att_recording(capture)
    assert recording.exchanges[0].value == value  # the Read Blob parts joined
    replay = BleReplay(capture, recording, passkey=111111)
    await replay.start(air)
    try:
        link = await central.connect("C6:05:04:03:02:01")
        level = UUID.from_16_bits(0x2A19)
        assert await link.read(level) == value
        assert replay.served == 1
        notified = await link.subscribe(level)
        assert await asyncio.wait_for(notified.get(), 5) == b"\x63"
        await link.write(level, b"\xaa")
        assert await link.error_of(link.read(level)) == 0x05
        assert replay.complete, replay.report()
        assert await link.error_of(link.read(level)) == 0x0E  # past the recording's end
        assert replay.divergence is not None and replay.divergence.request == 5
    finally:
        await replay.stop()
