"""Reading Bluetooth HCI capture files, device side: packets, L2CAP frames, advertisements.

Files (recognised by their first bytes, not their name):

- btsnoop (RFC 1761 framing; datalink 1002 = H4: each record's data starts with the H4
  type; flags bit 0 set = received by the host);
- pcap and pcapng with LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR (201): a 4-byte big-endian
  direction (0 = sent by the host, 1 = received) before each H4 packet (dpkt reads the
  file framing; the headers are decoded here).

From the packets: ACL data reassembled into L2CAP frames (Core spec Vol 4 Part E 5.4.2,
Vol 3 Part A 3.1: packet boundary flag 01 = continuing fragment), and the events that say
who the recorded device was: LE (Enhanced) Connection Complete (the peer's address) and LE
(Extended) Advertising Reports (its advertising and scan response data); and where a link
ended without the host asking (Disconnection Complete with no HCI Disconnect command before
it: the device dropped the link, or went out of range).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

from emulator.replay.truncation import (
    PCAPNG_MAGIC,
    btsnoop_cut_short,
    cut_short_message,
    pcap_cut_short,
)

LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR = 201
BTSNOOP_MAGIC = b"btsnoop\0"
BTSNOOP_H4 = 1002
H4_COMMAND, H4_ACL, H4_EVENT = 0x01, 0x02, 0x04
HCI_DISCONNECT = 0x0406
EVENT_DISCONNECTION_COMPLETE = 0x05
EVENT_LE_META = 0x3E
LE_CONNECTION_COMPLETE = 0x01
LE_ADVERTISING_REPORT = 0x02
LE_ENHANCED_CONNECTION_COMPLETE = 0x0A
LE_EXTENDED_ADVERTISING_REPORT = 0x0D
L2CAP_ATT = 0x0004
L2CAP_SMP = 0x0006


class CaptureError(Exception):
    """The file is not a Bluetooth HCI capture this module reads (message for the user)."""


@dataclass(frozen=True)
class HciPacket:
    received: bool
    """True: controller to host (from the recorded device's side); False: from the host."""
    h4: bytes


@dataclass(frozen=True)
class L2capFrame:
    connection: int
    received: bool
    cid: int
    payload: bytes


@dataclass(frozen=True)
class LinkLost:
    """The link ended and the host had not asked for it (the device or the radio ended it)."""

    connection: int
    reason: int


@dataclass
class PeerAdvertising:
    address: str
    random: bool
    advertising_data: bytes = b""
    scan_response: bytes = b""


@dataclass
class HciCapture:
    packets: list[HciPacket]
    frames: list[L2capFrame | LinkLost] = field(default_factory=list)
    """L2CAP frames in order, with the links the device dropped where it dropped them."""
    connected_to: list[tuple[str, bool]] = field(default_factory=list)
    """(address, is random) of each link the host opened, in order."""
    advertising: dict[str, PeerAdvertising] = field(default_factory=dict)


def read_packets(path: Path) -> list[HciPacket]:
    data = path.read_bytes()
    if data.startswith(BTSNOOP_MAGIC):
        return _btsnoop(data, path)
    try:
        reader = dpkt.pcap.UniversalReader(io.BytesIO(data))
    except (ValueError, dpkt.dpkt.Error) as exc:
        raise CaptureError(f"{path} is neither btsnoop nor pcap/pcapng ({exc}).") from exc
    if reader.datalink() != LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR:
        raise CaptureError(
            f"{path} has link type {reader.datalink()}, not Bluetooth HCI H4 with direction "
            f"({LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR}): it is not a Bluetooth HCI capture."
        )
    packets = []
    try:
        for _ts, buf in reader:
            raw = bytes(buf)
            if len(raw) < 5:
                continue
            (direction,) = struct.unpack(">I", raw[:4])
            packets.append(HciPacket(bool(direction & 1), raw[4:]))
    except (ValueError, struct.error, dpkt.dpkt.Error):
        raise CaptureError(cut_short_message(path, len(packets))) from None
    whole = None if data[:4] == PCAPNG_MAGIC else pcap_cut_short(data)
    if whole is not None:
        raise CaptureError(cut_short_message(path, whole))
    return packets


def _btsnoop(data: bytes, path: Path) -> list[HciPacket]:
    if len(data) < 16:
        raise CaptureError(
            f"{path} is cut short: it ends inside the 16-byte btsnoop file header. "
            "Nothing was replayed; ask for the whole file again."
        )
    _version, datalink = struct.unpack(">II", data[8:16])
    if datalink != BTSNOOP_H4:
        raise CaptureError(f"{path} is btsnoop with datalink {datalink}; only H4 (1002) is read.")
    whole = btsnoop_cut_short(data)
    if whole is not None:
        raise CaptureError(cut_short_message(path, whole))
    packets, offset = [], 16
    while offset + 24 <= len(data):
        _orig, included, flags, _drops, _ts = struct.unpack(">IIIIq", data[offset : offset + 24])
        offset += 24
        packets.append(HciPacket(bool(flags & 1), data[offset : offset + included]))
        offset += included
    return packets


def _address(raw: bytes) -> str:
    return ":".join(f"{b:02X}" for b in reversed(raw))


def decode(packets: list[HciPacket]) -> HciCapture:
    capture = HciCapture(packets)
    pending: dict[tuple[int, bool], bytearray] = {}
    host_ended: set[int] = set()
    for packet in packets:
        kind, body = packet.h4[:1], packet.h4[1:]
        if kind == bytes([H4_COMMAND]) and len(body) >= 5:
            if int.from_bytes(body[:2], "little") == HCI_DISCONNECT:
                host_ended.add(int.from_bytes(body[3:5], "little") & 0x0FFF)
            continue
        if kind == bytes([H4_ACL]) and len(body) >= 4:
            handle_flags, _length = struct.unpack("<HH", body[:4])
            handle, boundary = handle_flags & 0x0FFF, (handle_flags >> 12) & 0x3
            key = (handle, packet.received)
            if boundary == 0b01:
                if key not in pending:
                    continue  # a continuation without its start: not recorded
                pending[key] += body[4:]
            else:
                pending[key] = bytearray(body[4:])
            frame = pending[key]
            if len(frame) >= 4:
                size, cid = struct.unpack("<HH", frame[:4])
                if len(frame) >= 4 + size:
                    capture.frames.append(
                        L2capFrame(handle, packet.received, cid, bytes(frame[4 : 4 + size]))
                    )
                    del pending[key]
        elif kind == bytes([H4_EVENT]) and len(body) >= 3 and body[0] == EVENT_LE_META:
            _le_event(capture, body[2], body[3:])  # the events that name the recorded device
        elif (
            kind == bytes([H4_EVENT]) and len(body) >= 6 and body[0] == EVENT_DISCONNECTION_COMPLETE
        ):
            handle = int.from_bytes(body[3:5], "little") & 0x0FFF
            if body[2] == 0 and handle not in host_ended:
                capture.frames.append(LinkLost(handle, body[5]))
            host_ended.discard(handle)
    return capture


def _le_event(capture: HciCapture, subevent: int, p: bytes) -> None:
    if subevent in (LE_CONNECTION_COMPLETE, LE_ENHANCED_CONNECTION_COMPLETE) and len(p) >= 11:
        if p[0] == 0:  # status: success
            capture.connected_to.append((_address(p[5:11]), bool(p[4] & 1)))
    elif subevent == LE_EXTENDED_ADVERTISING_REPORT and p:
        offset = 1
        for _ in range(p[0]):
            if offset + 24 > len(p):
                break
            (event_type,) = struct.unpack("<H", p[offset : offset + 2])
            address_type, address = p[offset + 2], _address(p[offset + 3 : offset + 9])
            size = p[offset + 23]
            data = p[offset + 24 : offset + 24 + size]
            offset += 24 + size
            _advertised(capture, address, bool(address_type & 1), data, bool(event_type & 0x08))
    elif subevent == LE_ADVERTISING_REPORT and p:
        offset = 1
        for _ in range(p[0]):
            if offset + 9 > len(p):
                break
            event_type, address_type = p[offset], p[offset + 1]
            address, size = _address(p[offset + 2 : offset + 8]), p[offset + 8]
            data = p[offset + 9 : offset + 9 + size]
            offset += 10 + size  # and the RSSI byte
            _advertised(capture, address, bool(address_type & 1), data, event_type == 0x04)


def _advertised(
    capture: HciCapture, address: str, random: bool, data: bytes, scan_response: bool
) -> None:
    peer = capture.advertising.setdefault(address, PeerAdvertising(address, random))
    if not data:
        return
    if scan_response:
        peer.scan_response = data
    else:
        peer.advertising_data = data


def is_hci_capture(path: Path) -> bool:
    """Is ``path`` a Bluetooth HCI capture (btsnoop, or pcap/pcapng of link type 201)?"""
    try:
        with path.open("rb") as f:
            if f.read(8) == BTSNOOP_MAGIC:
                return True
            f.seek(0)
            return bool(
                dpkt.pcap.UniversalReader(f).datalink() == LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR
            )
    except (OSError, ValueError, dpkt.dpkt.Error):
        return False


def read_capture(path: Path) -> HciCapture:
    """The packets of ``path`` decoded; ``CaptureError`` if it cannot be read as HCI."""
    try:
        packets = read_packets(path)
    except OSError as exc:
        raise CaptureError(f"{path} cannot be read ({exc}).") from exc
    return decode(packets)
