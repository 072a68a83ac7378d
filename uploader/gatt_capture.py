"""A GATT-level Bluetooth capture as pcapng, for stacks that give no HCI packets.

On the operating system's stack (bleak on BlueZ, WinRT, CoreBluetooth) the uploader sees
GATT operations, not HCI. Each one it made is written as the ATT PDU that carries it
(Bluetooth Core spec, Vol 3, Part F, 3.4: Read Response 0x0B, Write Request 0x12, Handle
Value Notification 0x1B), in a pcapng file of link type 252 (LINKTYPE_WIRESHARK_UPPER_PDU:
each packet starts with "exported PDU" tags, here tag 12 naming Wireshark's ``btatt``
dissector, ended by tag 0), so Wireshark and ``tshark`` decode it as ATT. The stack does not
say attribute handles: the handle is 0 (and a Read Response has none), and each packet's
comment names the operation, the characteristic UUID and who sent it.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import BinaryIO

import dpkt

LINKTYPE_WIRESHARK_UPPER_PDU = 252
EXP_PDU_TAG_DISSECTOR_NAME = 12
EXP_PDU_TAG_END_OF_OPT = 0
ATT_READ_RESPONSE = 0x0B
ATT_WRITE_REQUEST = 0x12
ATT_HANDLE_VALUE_NOTIFICATION = 0x1B
UNKNOWN_HANDLE = b"\x00\x00"


@dataclass(frozen=True)
class GattOperation:
    time_s: float
    """Wall-clock time, seconds since the Unix epoch."""
    operation: str
    """``read``, ``write`` or ``notify``, as the uploader's Bluetooth transport names them."""
    characteristic: str
    value: bytes

    @classmethod
    def now(cls, operation: str, characteristic: str, value: bytes | None) -> GattOperation:
        return cls(time.time(), operation, characteristic, value or b"")


def _tag(code: int, value: bytes) -> bytes:
    padded = value + bytes(-len(value) % 4)
    return struct.pack(">HH", code, len(padded)) + padded


_BTATT = _tag(EXP_PDU_TAG_DISSECTOR_NAME, b"btatt") + _tag(EXP_PDU_TAG_END_OF_OPT, b"")


def att_pdu(operation: GattOperation) -> bytes:
    """The ATT PDU that carried ``operation``."""
    if operation.operation == "read":
        return bytes([ATT_READ_RESPONSE]) + operation.value
    if operation.operation == "write":
        return bytes([ATT_WRITE_REQUEST]) + UNKNOWN_HANDLE + operation.value
    return bytes([ATT_HANDLE_VALUE_NOTIFICATION]) + UNKNOWN_HANDLE + operation.value


def comment(operation: GattOperation) -> str:
    sender = "uploader -> device" if operation.operation == "write" else "device -> uploader"
    return f"{operation.operation} {operation.characteristic} ({sender})"


def write_gatt_pcapng(out: BinaryIO, operations: list[GattOperation]) -> None:
    writer = dpkt.pcapng.Writer(out, snaplen=65535, linktype=LINKTYPE_WIRESHARK_UPPER_PDU)
    for operation in operations:
        data = _BTATT + att_pdu(operation)
        block = dpkt.pcapng.EnhancedPacketBlockLE(
            pkt_data=data,
            pkt_len=len(data),
            opts=[
                dpkt.pcapng.PcapngOptionLE(
                    code=dpkt.pcapng.PCAPNG_OPT_COMMENT, text=comment(operation)
                ),
                dpkt.pcapng.PcapngOptionLE(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT),
            ],
        )
        writer.writepkt(block, ts=operation.time_s)
