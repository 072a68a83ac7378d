"""Tandem t:slim X2 history log entries and stream, device side.

From pumpX2's public description (response/historyLog/*.java, HistoryLogRequest.java,
HistoryLogResponse.java, HistoryLogStreamResponse.java): every entry is 26 bytes: type id
(low 12 bits of a u16), pump time u32 (seconds since 2008-01-01 00:00, the pump's clock),
sequence number u32, and 16 bytes of payload (floats are IEEE-754 single, little-endian);
TempRateActivated's duration in milliseconds, as pumpX2's published capture shows.
HistoryLogStreamResponse (opcode 0x81, on the history log characteristic) carries the number
of entries u8, the stream id u8 and the entries. Vectors: tests/vectors/tandem/history.json.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from emulator.protocols import tandem_constants as c


def pump_seconds(shown: datetime) -> int:
    """The pump's clock reading as seconds since 2008-01-01 00:00."""
    return int((shown.replace(tzinfo=None, microsecond=0) - c.EPOCH).total_seconds())


def entry(type_id: int, pump_time: int, sequence: int, payload: bytes) -> bytes:
    if len(payload) > c.ENTRY_SIZE - 10:
        raise ValueError(f"history payload of {len(payload)} bytes (at most 16)")
    head = struct.pack("<HII", type_id & 0x0FFF, pump_time, sequence)
    return (head + payload).ljust(c.ENTRY_SIZE, b"\0")


def _f(value: float) -> bytes:
    return struct.pack("<f", value)


def bolus_requested_msg2(
    bolus_id: int, standard_percent: int, minutes: int, isf: int, target: int
) -> bytes:
    return struct.pack(
        "<HBBHHHHBBBB", bolus_id, 0, standard_percent, minutes, 0, isf, target, 0, 0, 0, 0
    )


def bolus_activated(bolus_id: int, iob: float, size: float) -> bytes:
    return struct.pack("<HBB", bolus_id, 0, 0) + _f(iob) + _f(size)


def bolus_completed(
    bolus_id: int, status: int, iob: float, delivered: float, requested: float
) -> bytes:
    return struct.pack("<HH", status, bolus_id) + _f(iob) + _f(delivered) + _f(requested)


def basal_rate_change(command: float, base: float, profile: int, change: int) -> bytes:
    return _f(command) + _f(base) + _f(c.MAX_BASAL_RATE) + struct.pack("<HB", profile, change)


def temp_rate_activated(percent: float, duration_ms: float, temp_id: int) -> bytes:
    """Percent f32 @10, duration f32 @14 in milliseconds (pumpX2's capture), bytes 18-19 not
    parsed by pumpX2, temp rate id u16 @20."""
    return _f(percent) + _f(duration_ms) + struct.pack("<HH", c.TEMP_RATE_SPARE, temp_id)


def temp_rate_completed(temp_id: int, seconds_left: int) -> bytes:
    return struct.pack("<HHI", 0, temp_id, seconds_left)


def pumping_suspended(insulin: int, reason: int) -> bytes:
    return struct.pack("<IHB", 0, insulin, reason)


def pumping_resumed(insulin: int) -> bytes:
    return struct.pack("<IH", 0, insulin)


def time_changed(prior_seconds_of_day: int, after_seconds_of_day: int, rtc: int) -> bytes:
    return struct.pack("<III", prior_seconds_of_day, after_seconds_of_day, rtc)


def date_changed(prior_days: int, after_days: int, rtc: int) -> bytes:
    return struct.pack("<III", prior_days, after_days, rtc)


def bg_reading(mg_dl: int, iob: float, target: int, isf: int) -> bytes:
    return struct.pack("<HBB", mg_dl, 0, 0) + _f(iob) + struct.pack("<HHBBH", target, isf, 0, 0, 0)


def cgm_data_gx(mg_dl: int, timestamp: int, transmitter_time: int) -> bytes:
    # status u16, type u8, rate u8, one unused byte, rssi i8, value u16, timestamp u32,
    # transmitter timestamp u32
    return struct.pack(
        "<HBBBbHII", 0, c.CGM_TYPE, 0, 0, c.CGM_RSSI, mg_dl, timestamp, transmitter_time
    )


def cartridge_filled(amount: float) -> bytes:
    return struct.pack("<I", round(amount)) + _f(amount)


def tubing_filled(amount: float) -> bytes:
    return _f(amount)


def cannula_filled(amount: float, status: int) -> bytes:
    return _f(amount) + struct.pack("<I", status)


def alarm_activated(alarm_id: int) -> bytes:
    """AlarmActivated (type 5): alarm id u32 @10 (AlarmStatusResponse.AlarmResponseType)."""
    return struct.pack("<I", alarm_id)


def alert_activated(alert_id: int) -> bytes:
    """AlertActivated (type 4): alert id u32 @10 (AlertStatusResponse.AlertResponseType)."""
    return struct.pack("<I", alert_id)


@dataclass(frozen=True)
class HistoryRange:
    start: int
    count: int


def parse_history_request(cargo: bytes) -> HistoryRange:
    if len(cargo) != 5:
        raise ValueError(f"HistoryLogRequest cargo of {len(cargo)} bytes, expected 5")
    start, count = struct.unpack("<IB", cargo)
    return HistoryRange(start, count)


def history_status(count: int, first: int, last: int) -> bytes:
    return struct.pack("<III", count, first, last)


def history_response(status: int, stream_id: int) -> bytes:
    return bytes([status, stream_id])


def stream_cargo(stream_id: int, entries: list[bytes]) -> bytes:
    if len(entries) > c.MAX_ENTRIES_PER_STREAM:
        raise ValueError(f"{len(entries)} entries in one stream message (at most 9)")
    return bytes([len(entries), stream_id]) + b"".join(entries)
