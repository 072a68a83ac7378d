"""MiniMed 600-series history, host side: the transfer messages, sessions, blocks and events.

Sources: the public NGP history layouts (Tidepool's 600-series driver and history parser,
decoding-contour-next-link) for the commands, the multi-packet transfer, the 2048-byte block
and the 11-byte event header; the shared vectors tests/vectors/minimed600/history.json and
pump.json for the event layouts no public parser decodes (docs/protocols/minimed600.md).

- Read History Info (0x030C) / Read History (0x0304): data type (2 pump, 3 sensor), range
  (3 full, 4 partial), from and to RTC (UInt32BE), 0x0000. Info answer (0x030D): one byte,
  size UInt32BE, first and last event's NGP timestamp.
- The history comes in sessions (UNMERGED_HISTORY_RESPONSE 0x030E: data type, compressed
  size UInt32BE, uncompressed size UInt32BE, compressed flag, blocks; with the flag set the
  blocks are one LZO1X stream, decompressed by ``lzo1x`` to the uncompressed size), each
  announced by INITIATE_MULTIPACKET_TRANSFER (0xFF00: session size UInt32BE, packet size,
  last packet size, packet count, UInt16BE) and sent as MULTIPACKET_SEGMENT_TRANSMISSION
  (0xFF01: packet number UInt16BE, data). The host ACKs (0x00FE + the command acknowledged)
  the initiation and the last segment, asks for missing ones (0xFF02: first packet, count),
  and the pump ends with END_HISTORY_TRANSMISSION (0x030A).
- Block: 2048 bytes, events never split, data size UInt16BE at 2044 and the CRC-16/CCITT of
  the data at 2046.
- Event: type, source, size (whole event), NGP timestamp (RTC, offset); then its body.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from uploader.errors import ProtocolError
from uploader.protocols import lzo1x
from uploader.protocols.minimed_errors import MessageCorrupted
from uploader.protocols.minimed_pump import INSULIN_SCALE, PumpTime
from uploader.protocols.ngp import crc16_ccitt

READ_HISTORY_INFO_REQUEST, READ_HISTORY_INFO_RESPONSE = 0x030C, 0x030D
READ_HISTORY_REQUEST = 0x0304
END_HISTORY_TRANSMISSION = 0x030A
UNMERGED_HISTORY_RESPONSE = 0x030E
INITIATE_MULTIPACKET_TRANSFER = 0xFF00
MULTIPACKET_SEGMENT_TRANSMISSION = 0xFF01
MULTIPACKET_RESEND_PACKETS = 0xFF02
ACK_COMMAND = 0x00FE
NAK_COMMAND = 0x00FF

PUMP_DATA, SENSOR_DATA = 0x02, 0x03
FULL, PARTIAL = 0x03, 0x04
BLOCK_SIZE = 2048
SESSION_HEADER_SIZE = 12
EVENT_HEADER_SIZE = 11
MAX_SESSION_SIZE = 16 * 1024 * 1024
"""A sanity bound on one session's uncompressed size (90 days of history is far below)."""

USER_TIME_DATE_CHANGE = 0x03
NORMAL_BOLUS_PROGRAMMED = 0x15
SQUARE_BOLUS_PROGRAMMED = 0x16
DUAL_BOLUS_PROGRAMMED = 0x17
CANNULA_FILL_DELIVERED = 0x1A
TEMP_BASAL_PROGRAMMED = 0x1B
BASAL_PATTERN_SELECTED = 0x1C
BASAL_SEGMENT_START = 0x1D
INSULIN_DELIVERY_STOPPED = 0x1E
INSULIN_DELIVERY_RESTARTED = 0x1F
TEMP_BASAL_COMPLETE = 0x22
ALARM_NOTIFICATION = 0x28
BG_READING = 0x32
REWIND = 0x36
SENSOR_GLUCOSE_READINGS_EXTENDED = 0xD6
NORMAL_BOLUS_DELIVERED = 0xDC
SQUARE_BOLUS_DELIVERED = 0xDD
DUAL_BOLUS_PART_DELIVERED = 0xDE


def request_parameters(data_type: int, from_rtc: int | None = None) -> bytes:
    """Read History (Info) parameters: everything, or what the pump logged from ``from_rtc``."""
    if from_rtc is None:
        return struct.pack(">BBIIH", data_type, FULL, 0, 0xFFFFFFFF, 0)
    return struct.pack(">BBIIH", data_type, PARTIAL, from_rtc, 0xFFFFFFFF, 0)


def ack_parameters(command: int) -> bytes:
    return struct.pack(">H", command)


def resend_parameters(first: int, count: int) -> bytes:
    return struct.pack(">HH", first, count)


@dataclass(frozen=True)
class HistoryInfo:
    size: int
    first: PumpTime
    last: PumpTime


def parse_history_info(p: bytes) -> HistoryInfo:
    _need(p, 21, "history information")
    (size,) = struct.unpack_from(">I", p, 1)
    r1, o1, r2, o2 = struct.unpack_from(">IIII", p, 5)
    return HistoryInfo(size, PumpTime(r1, o1), PumpTime(r2, o2))


@dataclass(frozen=True)
class Initiate:
    session_size: int
    packet_size: int
    last_packet_size: int
    packets: int


def parse_initiate(p: bytes) -> Initiate:
    _need(p, 10, "multi-packet announcement")
    size, packet, last, count = struct.unpack_from(">IHHH", p)
    if count == 0 or packet == 0 or size != packet * (count - 1) + last:
        raise ProtocolError(
            f"The pump announced {count} packets of {packet} bytes (last {last}) for a "
            f"{size}-byte history session: these do not add up."
        )
    return Initiate(size, packet, last, count)


def parse_segment(p: bytes) -> tuple[int, bytes]:
    _need(p, 2, "history segment")
    return struct.unpack_from(">H", p)[0], p[2:]


def parse_nak(p: bytes) -> tuple[int, int]:
    _need(p, 3, "refusal")
    command, code = struct.unpack_from(">HB", p)
    return command, code


@dataclass(frozen=True)
class Session:
    data_type: int
    blocks: tuple[bytes, ...]


def parse_session(data: bytes) -> Session:
    """A reassembled UNMERGED_HISTORY_RESPONSE: its header and its 2048-byte blocks."""
    _need(data, SESSION_HEADER_SIZE, "history session")
    command, data_type, compressed, uncompressed, flag = struct.unpack_from(">HBIIB", data)
    if command != UNMERGED_HISTORY_RESPONSE:
        raise ProtocolError(f"The pump's history session starts with 0x{command:04x}.")
    body = data[SESSION_HEADER_SIZE:]
    if uncompressed % BLOCK_SIZE or uncompressed > MAX_SESSION_SIZE:
        raise ProtocolError(
            f"The pump announced a {uncompressed}-byte history session, not whole "
            f"{BLOCK_SIZE}-byte blocks (at most {MAX_SESSION_SIZE} bytes)."
        )
    if flag:
        if len(body) != compressed:
            raise ProtocolError(
                f"The pump's compressed history session holds {len(body)} bytes where it "
                f"announced {compressed}."
            )
        body = lzo1x.decompress(body, uncompressed)
    elif compressed != uncompressed or len(body) != uncompressed:
        raise ProtocolError(
            f"The pump's history session holds {len(body)} bytes where it announced "
            f"{uncompressed} in whole {BLOCK_SIZE}-byte blocks."
        )
    blocks = tuple(body[i : i + BLOCK_SIZE] for i in range(0, len(body), BLOCK_SIZE))
    return Session(data_type, blocks)


def block_data(block: bytes, number: int) -> bytes:
    """The events of one block, its CRC checked."""
    size, crc = struct.unpack_from(">HH", block, BLOCK_SIZE - 4)
    if size > BLOCK_SIZE - 4 or crc16_ccitt(block[:size]) != crc:
        raise MessageCorrupted(f"History block {number} failed its CRC.")
    return block[:size]


@dataclass(frozen=True)
class RawEvent:
    type: int
    source: int
    time: PumpTime
    body: bytes

    @property
    def local(self) -> datetime:
        return self.time.local


def split_events(data: bytes) -> list[RawEvent]:
    out = []
    pos = 0
    while pos < len(data):
        if pos + EVENT_HEADER_SIZE > len(data):
            raise ProtocolError(f"A history event is cut off at byte {pos} of its block.")
        kind, source, size = data[pos], data[pos + 1], data[pos + 2]
        if size < EVENT_HEADER_SIZE or pos + size > len(data):
            raise ProtocolError(f"History event 0x{kind:02x} at byte {pos} claims {size} bytes.")
        rtc, offset = struct.unpack_from(">II", data, pos + 3)
        out.append(
            RawEvent(
                kind, source, PumpTime(rtc, offset), data[pos + EVENT_HEADER_SIZE : pos + size]
            )
        )
        pos += size
    return out


def units(body: bytes, at: int) -> float:
    (raw,) = struct.unpack_from(">I", body, at)
    return int(raw) / INSULIN_SCALE


@dataclass(frozen=True)
class SensorReading:
    minutes_before: int
    mg_dl: int


def sensor_readings(body: bytes) -> list[SensorReading]:
    """SENSOR_GLUCOSE_READINGS_EXTENDED: minutes between, count, predicted SG, then per
    reading (newest first) SG UInt16BE, ISIG, vctr, rate of change, two status bytes."""
    _need(body, 4, "sensor glucose event")
    between, count = body[0], body[1]
    _need(body, 4 + 9 * count, "sensor glucose event")
    out = []
    for i in range(count):
        (sg,) = struct.unpack_from(">H", body, 4 + 9 * i)
        out.append(SensorReading(i * between, sg))
    return out


def _need(p: bytes, size: int, what: str) -> None:
    if len(p) < size:
        raise ProtocolError(f"The pump's {what} has {len(p)} bytes; {size} were expected.")
