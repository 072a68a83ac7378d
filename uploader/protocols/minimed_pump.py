"""MiniMed 600-series pump commands and their answers, host side (the decrypted frames).

Specification: ../shared/specs/tidepool-uploader/lib/drivers/medtronic600/docs/
packetStructure.md (High Speed Mode, Pump Time, Pump Status, Bolus Wizard BG Targets,
Carb Ratios and Sensitivity Factors, Read Basal Pattern). Numbers are big-endian; insulin
amounts and rates are in units x 10000. Readings of the document where it is unclear:

- a basal pattern item is a 4-byte rate and a 1-byte start ("Bytes 5 to 9"), though its
  table says 2 bytes;
- the Bolus Wizard answers carry an inner CRC-16/CCITT over the bytes from "# Items" up to
  the frame's own CRC; it is checked like the outer one;
- carb ratios are in tenths of a gram per unit (public drivers divide by 10; the table says
  "grams"), exchange ratios in thousandths.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from uploader.errors import ProtocolError
from uploader.protocols.minimed_errors import MessageCorrupted
from uploader.protocols.ngp import crc16_ccitt

HIGH_SPEED_MODE = 0x0412
TIME_REQUEST, TIME_RESPONSE = 0x0403, 0x0407
STATUS_REQUEST, STATUS_RESPONSE = 0x0112, 0x013C
BWZ_TARGETS_REQUEST, BWZ_TARGETS_RESPONSE = 0x0131, 0x0132
BWZ_CARB_RATIOS_REQUEST, BWZ_CARB_RATIOS_RESPONSE = 0x012B, 0x012C
BWZ_SENSITIVITY_REQUEST, BWZ_SENSITIVITY_RESPONSE = 0x012E, 0x012F
BASAL_PATTERN_REQUEST, BASAL_PATTERN_RESPONSE = 0x0116, 0x0123
READ_HISTORY_INFO_REQUEST, READ_HISTORY_INFO_RESPONSE = 0x030C, 0x030D

RESPONSE_TO = {
    TIME_REQUEST: TIME_RESPONSE,
    STATUS_REQUEST: STATUS_RESPONSE,
    BWZ_TARGETS_REQUEST: BWZ_TARGETS_RESPONSE,
    BWZ_CARB_RATIOS_REQUEST: BWZ_CARB_RATIOS_RESPONSE,
    BWZ_SENSITIVITY_REQUEST: BWZ_SENSITIVITY_RESPONSE,
    BASAL_PATTERN_REQUEST: BASAL_PATTERN_RESPONSE,
    READ_HISTORY_INFO_REQUEST: READ_HISTORY_INFO_RESPONSE,
}

PATTERN_NAMES = {
    1: "Pattern 1",
    2: "Pattern 2",
    3: "Pattern 3",
    4: "Pattern 4",
    5: "Pattern 5",
    6: "Work Day",
    7: "Day Off",
    8: "Sick Day",
}

NGP_EPOCH = datetime(2000, 1, 1)
INSULIN_SCALE = 10000


def ngp_time(rtc: int, offset: int) -> datetime:
    """The pump's local wall time from its RTC and offset (the offset is signed 32-bit)."""
    return NGP_EPOCH + timedelta(seconds=rtc + offset - 0x100000000)


def high_speed_parameters(enable: bool) -> bytes:
    return b"\x00" if enable else b"\x01"


def basal_pattern_parameters(pattern: int) -> bytes:
    return bytes([pattern])


@dataclass(frozen=True)
class PumpTime:
    rtc: int
    offset: int
    clock_set: bool = True

    @property
    def local(self) -> datetime:
        return ngp_time(self.rtc, self.offset)


def parse_time(parameters: bytes) -> PumpTime:
    """The Time Response: a "clock set" flag (public drivers read it at frame byte 3; the
    document's table omits it, so an 8-byte answer without it is read too), RTC, offset."""
    if len(parameters) >= 9:
        rtc, offset = struct.unpack_from(">II", parameters, 1)
        return PumpTime(rtc, offset, parameters[0] != 0)
    _need(parameters, 8, "time")
    rtc, offset = struct.unpack_from(">II", parameters)
    return PumpTime(rtc, offset)


@dataclass(frozen=True)
class PumpStatus:
    flags: int
    active_pattern: int
    normal_rate: float
    temp_rate: float
    temp_percent: int
    temp_minutes_left: int
    basal_delivered_today: float
    battery_percent: int
    reservoir_units: float
    reservoir_minutes_left: int
    active_insulin: float
    sensor_glucose_mg_dl: int
    sensor_glucose_time: PumpTime
    bolus_wizard_bg_mg_dl: int

    @property
    def suspended(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def bolusing(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def temp_basal_active(self) -> bool:
        return bool(self.flags & 0x20)

    @property
    def cgm_active(self) -> bool:
        return bool(self.flags & 0x40)


STATUS_SIZE = 93


def parse_status(p: bytes) -> PumpStatus:
    _need(p, STATUS_SIZE, "status")
    (normal, temp) = struct.unpack_from(">II", p, 24)
    (temp_minutes,) = struct.unpack_from(">H", p, 33)
    (delivered,) = struct.unpack_from(">I", p, 35)
    (reservoir,) = struct.unpack_from(">I", p, 40)
    (active,) = struct.unpack_from(">I", p, 46)
    (sgv,) = struct.unpack_from(">H", p, 50)
    rtc, offset = struct.unpack_from(">II", p, 52)
    (bgl,) = struct.unpack_from(">H", p, 70)
    return PumpStatus(
        flags=p[0],
        active_pattern=p[23],
        normal_rate=normal / INSULIN_SCALE,
        temp_rate=temp / INSULIN_SCALE,
        temp_percent=p[32],
        temp_minutes_left=temp_minutes,
        basal_delivered_today=delivered / INSULIN_SCALE,
        battery_percent=p[39],
        reservoir_units=reservoir / INSULIN_SCALE,
        reservoir_minutes_left=p[44] * 60 + p[45],
        active_insulin=active / INSULIN_SCALE,
        sensor_glucose_mg_dl=sgv,
        sensor_glucose_time=PumpTime(rtc, offset),
        bolus_wizard_bg_mg_dl=bgl,
    )


@dataclass(frozen=True)
class BasalSegment:
    start_minutes: int
    rate: float


@dataclass(frozen=True)
class BasalPattern:
    number: int
    segments: tuple[BasalSegment, ...]

    @property
    def name(self) -> str:
        return PATTERN_NAMES.get(self.number, f"Pattern {self.number}")


def parse_basal_pattern(p: bytes) -> BasalPattern:
    _need(p, 2, "basal pattern")
    count = p[1]
    _need(p, 2 + 5 * count, "basal pattern")
    segments = []
    for i in range(count):
        rate, start = struct.unpack_from(">IB", p, 2 + 5 * i)
        segments.append(BasalSegment(start * 30, rate / INSULIN_SCALE))
    return BasalPattern(p[0], tuple(segments))


@dataclass(frozen=True)
class TargetSegment:
    start_minutes: int
    low_mg_dl: int
    high_mg_dl: int


@dataclass(frozen=True)
class RatioSegment:
    start_minutes: int
    grams: float
    exchange_units: float


@dataclass(frozen=True)
class SensitivitySegment:
    start_minutes: int
    mg_dl: int


def _items(p: bytes, size: int, what: str) -> list[bytes]:
    """The checked items of a Bolus Wizard answer (inner CRC, then # items, then items)."""
    _need(p, 3, what)
    (inner,) = struct.unpack_from(">H", p)
    if crc16_ccitt(p[2:]) != inner:
        raise MessageCorrupted(f"The pump's {what} failed its inner CRC.")
    count = p[2]
    _need(p, 3 + size * count, what)
    return [p[3 + size * i : 3 + size * (i + 1)] for i in range(count)]


def parse_targets(p: bytes) -> tuple[TargetSegment, ...]:
    out = []
    for item in _items(p, 9, "bolus wizard targets"):
        high, _, low, _, start = struct.unpack(">HHHHB", item)
        out.append(TargetSegment(start * 30, low, high))
    return tuple(out)


def parse_carb_ratios(p: bytes) -> tuple[RatioSegment, ...]:
    out = []
    for item in _items(p, 9, "carb ratios"):
        grams, units, start = struct.unpack(">IIB", item)
        out.append(RatioSegment(start * 30, grams / 10, units / 1000))
    return tuple(out)


def parse_sensitivities(p: bytes) -> tuple[SensitivitySegment, ...]:
    out = []
    for item in _items(p, 5, "insulin sensitivities"):
        mg_dl, _, start = struct.unpack(">HHB", item)
        out.append(SensitivitySegment(start * 30, mg_dl))
    return tuple(out)


def _need(p: bytes, size: int, what: str) -> None:
    if len(p) < size:
        raise ProtocolError(f"The pump's {what} answer has {len(p)} bytes; {size} were expected.")
