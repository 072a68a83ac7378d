"""MiniMed 600-series pump answers, device side: the parameters of each ComD response and the
history (events, 2048-byte blocks, multipacket sessions).

Specification: packetStructure.md (Pump Time, Pump Status, Basal Pattern, Bolus Wizard
targets / carb ratios / sensitivities) and the public NGP history layouts (Tidepool's NGP
history parser: event header, sensor readings, BG reading, basal segment, temp basal
complete, cannula fill, bolus delivered events; 2048-byte blocks ending in size and CCITT;
multipacket sessions). Layouts no public source gives are the emulator's, listed in
``minimed600_constants`` and docs/protocols/minimed600.md.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from emulator.protocols import lzo1x_encode
from emulator.protocols import minimed600_constants as c
from emulator.protocols.minimed600 import crc16, encode_comd, with_inner_crc

U = 10000
"""Insulin amounts travel in 1/10000 U."""


def units(amount: float) -> bytes:
    return struct.pack(">I", round(amount * U))


def ngp_timestamp(local: datetime, utc: datetime) -> bytes:
    """RTC (true seconds since ``RTC_START``) and Offset (local - 2000 - RTC, as 2**32 + x)."""
    rtc = int((utc - c.RTC_START).total_seconds())
    offset = int((local.replace(tzinfo=None) - c.NGP_EPOCH).total_seconds()) - rtc
    return struct.pack(">II", rtc & 0xFFFFFFFF, (offset + 2**32) & 0xFFFFFFFF)


def rtc_of(utc: datetime) -> int:
    return int((utc - c.RTC_START).total_seconds()) & 0xFFFFFFFF


# ---- settings and status ------------------------------------------------------------------


def time_response(local: datetime, utc: datetime) -> bytes:
    return bytes([c.TIME_SET_FLAG]) + ngp_timestamp(local, utc)


def basal_pattern_response(number: int, schedule: Sequence[tuple[int, float]]) -> bytes:
    """``schedule``: (start in minutes from midnight, U/h)."""
    items = b"".join(struct.pack(">IB", round(rate * U), start // 30) for start, rate in schedule)
    return bytes([number, len(schedule)]) + items


def carb_ratios_response(ratios: Sequence[tuple[int, float]]) -> bytes:
    """(start minutes, grams per unit): grams x10 UInt32BE, exchanges UInt32BE (0), time."""
    items = b"".join(struct.pack(">IIB", round(g * 10), 0, start // 30) for start, g in ratios)
    return with_inner_crc(bytes([len(ratios)]) + items)


def _mmol10(mg_dl: float) -> int:
    return round(mg_dl / 18.0 * 10)


def sensitivity_response(factors: Sequence[tuple[int, float]]) -> bytes:
    items = b"".join(struct.pack(">HHB", round(v), _mmol10(v), start // 30) for start, v in factors)
    return with_inner_crc(bytes([len(factors)]) + items)


def targets_response(targets: Sequence[tuple[int, float, float]]) -> bytes:
    """(start minutes, low mg/dL, high mg/dL)."""
    items = b"".join(
        struct.pack(">HHHHB", round(hi), _mmol10(hi), round(lo), _mmol10(lo), start // 30)
        for start, lo, hi in targets
    )
    return with_inner_crc(bytes([len(targets)]) + items)


@dataclass(frozen=True)
class PumpStatus:
    suspended: bool
    bolusing: bool
    temp_active: bool
    cgm_active: bool
    active_pattern: int
    normal_rate: float
    temp_rate: float
    temp_percent: int
    temp_minutes_left: int
    basal_today: float
    battery_percent: int
    reservoir: float
    hours_left: int
    minutes_left: int
    active_insulin: float
    sgv: int
    sgv_timestamp: bytes
    bwz_status: int = 0
    bgl: int = 0


def status_response(status: PumpStatus, sequence: int) -> bytes:
    """The whole plain Pump Status Response (with its CRC)."""
    out = bytearray(c.STATUS_RESPONSE_SIZE)
    out[0] = sequence & 0xFF
    out[1:3] = struct.pack(">H", c.READ_PUMP_STATUS_RESPONSE)
    out[3] = (
        (c.PUMP_STATUS_SUSPENDED if status.suspended else 0)
        | (c.PUMP_STATUS_BOLUSING if status.bolusing else 0)
        | (0 if status.suspended else c.PUMP_STATUS_ACTIVE)
        | (c.PUMP_STATUS_TEMP_BASAL if status.temp_active else 0)
        | (c.PUMP_STATUS_CGM_ACTIVE if status.cgm_active else 0)
    )
    out[0x1A] = status.active_pattern
    out[27:31] = units(status.normal_rate)
    out[31:35] = units(status.temp_rate)
    out[35] = status.temp_percent
    out[36:38] = struct.pack(">H", status.temp_minutes_left)
    out[38:42] = units(status.basal_today)
    out[42] = status.battery_percent
    out[43:47] = units(status.reservoir)
    out[47] = status.hours_left
    out[48] = status.minutes_left
    out[49:53] = units(status.active_insulin)
    out[53:55] = struct.pack(">H", status.sgv)
    out[55:63] = status.sgv_timestamp
    out[72] = status.bwz_status
    out[73:75] = struct.pack(">H", status.bgl)
    return bytes(out) + struct.pack(">H", crc16(bytes(out)))


# ---- history ------------------------------------------------------------------------------


def event(event_type: int, local: datetime, utc: datetime, body: bytes = b"") -> bytes:
    """One history event: type, source (0), size, timestamp, body."""
    size = c.EVENT_HEADER_SIZE + len(body)
    return bytes([event_type, 0, size]) + ngp_timestamp(local, utc) + body


@dataclass(frozen=True)
class SensorReading:
    sg: int
    isig: float = 21.5
    rate_of_change: float = 0.0


def sensor_readings_body(readings: Sequence[SensorReading], predicted: int) -> bytes:
    """Readings newest first, ``SG_INTERVAL_MINUTES`` apart (the event time is the newest)."""
    out = bytes([c.SG_INTERVAL_MINUTES, len(readings)]) + struct.pack(">H", predicted)
    for r in readings:
        out += (
            bytes([(r.sg >> 8) & 3, r.sg & 0xFF])
            + struct.pack(">h", round(r.isig * 100))
            + bytes([0])
            + struct.pack(">h", round(r.rate_of_change * 100))
            + bytes([0, 0])
        )
    return out


def bg_reading_body(mg_dl: int, source: int, meter_serial: str | None) -> bytes:
    serial = (
        meter_serial.encode("ascii")[::-1].ljust(10) if meter_serial else c.UNLINKED_METER_SERIAL
    )
    return bytes([c.BG_FLAG_MG_DL]) + struct.pack(">H", mg_dl) + bytes([source]) + serial[:10]


def history_blocks(events: Sequence[bytes]) -> list[bytes]:
    """Events packed into 2048-byte blocks (never split), each ending in size and CCITT."""
    room = c.HISTORY_BLOCK_SIZE - 4
    blocks: list[bytes] = []
    current = b""
    for raw in events:
        if len(current) + len(raw) > room:
            blocks.append(_close_block(current))
            current = b""
        current += raw
    if current or not blocks:
        blocks.append(_close_block(current))
    return blocks


def _close_block(data: bytes) -> bytes:
    return data.ljust(c.HISTORY_BLOCK_SIZE - 4, b"\x00") + struct.pack(
        ">HH", len(data), crc16(data)
    )


def history_session(data_type: int, blocks: Sequence[bytes], *, compress: bool = False) -> bytes:
    """The data of one UNMERGED_HISTORY_RESPONSE multipacket session (command first): the
    blocks as they are, or (``compress``) one LZO1X stream of them."""
    payload = b"".join(blocks)
    body = lzo1x_encode.compress(payload) if compress else payload
    return (
        struct.pack(">H", c.UNMERGED_HISTORY_RESPONSE)
        + bytes([data_type])
        + struct.pack(">II", len(body), len(payload))
        + bytes([c.HISTORY_FLAG_LZO if compress else c.HISTORY_FLAG_PLAIN])
        + body
    )


def multipacket(sequence: int, session: bytes) -> tuple[bytes, list[bytes]]:
    """The plain INITIATE_MULTIPACKET_TRANSFER and the segment messages of one session."""
    size = c.MULTIPACKET_PACKET_SIZE
    packets = [session[i : i + size] for i in range(0, len(session), size)]
    initiate = encode_comd(
        sequence,
        c.INITIATE_MULTIPACKET_TRANSFER,
        struct.pack(">IHHH", len(session), size, len(packets[-1]), len(packets)),
    )
    segments = [
        encode_comd(sequence, c.MULTIPACKET_SEGMENT_TRANSMISSION, struct.pack(">H", n) + packet)
        for n, packet in enumerate(packets)
    ]
    return initiate, segments


def history_info(sequence: int, size: int, start: bytes, end: bytes) -> bytes:
    return encode_comd(
        sequence,
        c.READ_HISTORY_INFO_RESPONSE,
        bytes([c.HISTORY_INFO_BYTE3]) + struct.pack(">I", size) + start + end,
    )


# ---- event bodies (after the 11-byte header) ------------------------------------------------


def basal_segment_start(pattern: int, segment: int, rate: float) -> bytes:
    return bytes([pattern, segment]) + units(rate)


def normal_bolus_programmed(source: int, number: int, amount: float, iob: float) -> bytes:
    return bytes([source, number & 0xFF, 0]) + units(amount) + units(iob)


def normal_bolus_delivered(
    source: int, number: int, programmed: float, delivered: float, iob: float
) -> bytes:
    return bytes([source, number & 0xFF, 0]) + units(programmed) + units(delivered) + units(iob)


def square_bolus_programmed(source: int, number: int, amount: float, minutes: int) -> bytes:
    return bytes([source, number & 0xFF, 0]) + units(amount) + struct.pack(">H", minutes)


def square_bolus_delivered(
    source: int, number: int, programmed: float, delivered: float, minutes: int, ran: int
) -> bytes:
    return (
        bytes([source, number & 0xFF, 0])
        + units(programmed)
        + units(delivered)
        + struct.pack(">HH", minutes, ran)
    )


def dual_bolus_programmed(
    source: int, number: int, normal: float, square: float, minutes: int
) -> bytes:
    return (
        bytes([source, number & 0xFF, 0])
        + units(normal)
        + units(square)
        + struct.pack(">H", minutes)
    )


def dual_bolus_part_delivered(
    source: int,
    number: int,
    normal: float,
    square: float,
    delivered: float,
    part: int,
    minutes: int,
    ran: int,
    iob: float,
) -> bytes:
    return (
        bytes([source, number & 0xFF, 0])
        + units(normal)
        + units(square)
        + units(delivered)
        + bytes([part])
        + struct.pack(">HH", minutes, ran)
        + units(iob)
    )


def temp_basal(kind: int, rate: float, percent: int, minutes: int) -> bytes:
    """TEMP_BASAL_PROGRAMMED body (preset 0); TEMP_BASAL_COMPLETE appends the cancel flag."""
    return bytes([0, kind]) + units(rate) + bytes([percent]) + struct.pack(">H", minutes)


def temp_basal_complete(
    kind: int, rate: float, percent: int, minutes: int, cancelled: bool
) -> bytes:
    return temp_basal(kind, rate, percent, minutes) + bytes([1 if cancelled else 0])


def cannula_fill(fill_type: int, amount: float, remaining: float) -> bytes:
    return bytes([fill_type]) + units(amount) + units(remaining)


def alarm(fault_number: int) -> bytes:
    return struct.pack(">H", fault_number) + bytes([0])
