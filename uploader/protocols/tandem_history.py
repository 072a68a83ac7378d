"""Tandem t:slim X2 history log, host side: requests by sequence number, stream, entries, time.

Source: pumpX2's public description of the history log. On the current-status
characteristic: HistoryLogStatusRequest (opcode 58, no cargo) answered by opcode 59 (number
of entries, first and last sequence number, u32 each); HistoryLogRequest (opcode 60: first
sequence number u32, count u8) answered by opcode 61 (status u8, stream id u8). The entries
then arrive on the history-log characteristic as HistoryLogStreamResponse (opcode 0x81:
count u8, stream id u8, then ``count`` packed 26-byte entries).

An entry: u16 whose low 12 bits are the type id, pump time u32 (seconds since 2008-01-01
00:00, the pump's local clock), sequence number u32, 16 bytes of type-specific data.

Placing entries in time: an entry whose pump time is 0 carries no timestamp; it takes the
time of the nearest earlier entry that has one, or else the nearest later one (our choice,
see docs/protocols/tandem-host.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from uploader.protocols.tandem import FrameError, Message, expect

HISTORY_LOG_STATUS_REQUEST = 58
HISTORY_LOG_STATUS_RESPONSE = 59
HISTORY_LOG_REQUEST = 60
HISTORY_LOG_RESPONSE = 61
HISTORY_LOG_STREAM = 0x81

ENTRY_SIZE = 26
MAX_ENTRIES_PER_REQUEST = 0xFF
PUMP_EPOCH = datetime(2008, 1, 1)

# Type ids named in the public description (the entries this uploader places and keeps).
TEMP_RATE_ACTIVATED = 2
BASAL_RATE_CHANGE = 3
PUMPING_SUSPENDED = 11
PUMPING_RESUMED = 12
TIME_CHANGED = 13
DATE_CHANGED = 14
TEMP_RATE_COMPLETED = 15
BG_READING_TAKEN = 16
BOLUS_COMPLETED = 20
BOLEX_COMPLETED = 21
BOLUS_ACTIVATED = 55
BOLEX_ACTIVATED = 59
BOLUS_REQUESTED_2 = 65
CARTRIDGE_FILLED = 33
CANNULA_FILLED = 61
TUBING_FILLED = 63
ALERT_ACTIVATED = 4
ALARM_ACTIVATED = 5
CGM_DATA_GXB = 256
BASAL_DELIVERY = 279
BOLUS_DELIVERY = 280


def pump_time(seconds: int) -> datetime:
    """A pump timestamp (seconds since 2008-01-01, pump's local clock) as a naive datetime."""
    return PUMP_EPOCH + timedelta(seconds=seconds)


def history_status_request(transaction_id: int) -> Message:
    """Ask which sequence numbers the pump holds."""
    return Message(HISTORY_LOG_STATUS_REQUEST, transaction_id, b"")


@dataclass(frozen=True)
class HistoryStatus:
    """How many entries the pump holds and the range of their sequence numbers."""

    count: int
    first: int
    last: int


def parse_history_status(message: Message) -> HistoryStatus:
    """Parse opcode 59."""
    expect(message, HISTORY_LOG_STATUS_RESPONSE, 12)
    count, first, last = struct.unpack("<III", message.cargo)
    return HistoryStatus(count, first, last)


def history_request(transaction_id: int, first: int, count: int) -> Message:
    """Ask for ``count`` entries from sequence number ``first``."""
    if not 1 <= count <= MAX_ENTRIES_PER_REQUEST:
        raise ValueError(f"a history request asks for 1 to {MAX_ENTRIES_PER_REQUEST} entries")
    return Message(HISTORY_LOG_REQUEST, transaction_id, struct.pack("<IB", first, count))


def parse_history_response(message: Message) -> tuple[int, int]:
    """Parse opcode 61: (status, stream id); status 0 means the stream follows."""
    expect(message, HISTORY_LOG_RESPONSE, 2)
    return message.cargo[0], message.cargo[1]


@dataclass(frozen=True)
class HistoryEntry:
    """One packed entry as the pump logged it; ``time`` is filled by ``place_in_time``."""

    type_id: int
    pump_seconds: int
    sequence: int
    data: bytes
    raw: bytes
    time: datetime | None = None
    time_inferred: bool = False


def parse_entry(raw: bytes) -> HistoryEntry:
    """Parse one 26-byte entry."""
    if len(raw) != ENTRY_SIZE:
        raise FrameError(f"history entry of {len(raw)} bytes, expected {ENTRY_SIZE}")
    header, seconds, sequence = struct.unpack_from("<HII", raw)
    return HistoryEntry(header & 0x0FFF, seconds, sequence, bytes(raw[10:]), bytes(raw))


def parse_stream(message: Message) -> tuple[int, list[HistoryEntry]]:
    """Parse one HistoryLogStreamResponse: (stream id, its entries)."""
    if message.opcode != HISTORY_LOG_STREAM:
        raise FrameError(f"expected history stream opcode 0x81, got 0x{message.opcode:02x}")
    if len(message.cargo) < 2:
        raise FrameError("history stream message without count and stream id")
    count, stream_id = message.cargo[0], message.cargo[1]
    body = message.cargo[2:]
    if len(body) != count * ENTRY_SIZE:
        raise FrameError(
            f"history stream says {count} entries but carries {len(body)} bytes "
            f"({len(body) / ENTRY_SIZE:.2f} entries)"
        )
    entries = [parse_entry(body[i : i + ENTRY_SIZE]) for i in range(0, len(body), ENTRY_SIZE)]
    return stream_id, entries


def check_range(entries: Sequence[HistoryEntry], first: int, count: int) -> list[HistoryEntry]:
    """The entries of one request, in sequence order; each of ``first``.. exactly once.

    The pump may stream a request's entries newest first (public captures do), so the order
    they came in says nothing; what counts is that none is missing or repeated.
    """
    ordered = sorted(entries, key=lambda e: e.sequence)
    wanted = list(range(first, first + count))
    got = [e.sequence for e in ordered]
    if got != wanted:
        missing = sorted(set(wanted) - set(got))
        extra = sorted(s for s in set(got) if got.count(s) > 1 or s not in wanted)
        raise FrameError(
            f"history request for {count} entries from {first} got {len(got)}: "
            f"missing {missing[:5]}, repeated or unexpected {extra[:5]}"
        )
    return ordered


def place_in_time(
    entries: Iterable[HistoryEntry], previous: datetime | None = None
) -> list[HistoryEntry]:
    """Give every entry a time, in sequence order; untimed ones take a neighbour's.

    ``previous`` is the time of the entry just before these (from an earlier read)."""
    ordered = sorted(entries, key=lambda e: e.sequence)
    placed: list[HistoryEntry] = []
    last_known = previous
    for entry in ordered:
        if entry.pump_seconds:
            last_known = pump_time(entry.pump_seconds)
            placed.append(replace(entry, time=last_known, time_inferred=False))
        else:
            placed.append(replace(entry, time=last_known, time_inferred=True))
    next_known: datetime | None = None
    for index in range(len(placed) - 1, -1, -1):
        entry = placed[index]
        if not entry.time_inferred:
            next_known = entry.time
        elif entry.time is None:
            placed[index] = replace(entry, time=next_known)
    return placed
