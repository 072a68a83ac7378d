"""Continuous Glucose Monitoring Service (CGMS, 0x181F), collector side.

Specs: the CGM Service and its characteristic definitions: CGM Measurement 0x2AA7 (one or
more records: size, flags, glucose SFLOAT mg/dL, time offset in minutes from the session
start, optional sensor status annunciation octets (status, cal/temp, warning, each only if
flagged), optional trend SFLOAT (mg/dL)/min, optional quality SFLOAT %, E2E-CRC when the
feature says so), CGM Feature 0x2AA8 (24 feature bits, type/location octet, E2E-CRC always
present, 0xFFFF when unsupported), CGM Status 0x2AA9, Session Start Time 0x2AAA (Date Time,
Time Zone, DST offset), Session Run Time 0x2AAB, Specific Ops Control Point 0x2AAC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from uploader.protocols.ble_time import decode_date_time, utc_offset_minutes
from uploader.protocols.e2e_crc import append_crc, split_checked
from uploader.protocols.ieee11073 import decode_sfloat

SERVICE = "0000181f-0000-1000-8000-00805f9b34fb"
MEASUREMENT = "00002aa7-0000-1000-8000-00805f9b34fb"
FEATURE = "00002aa8-0000-1000-8000-00805f9b34fb"
STATUS = "00002aa9-0000-1000-8000-00805f9b34fb"
SESSION_START_TIME = "00002aaa-0000-1000-8000-00805f9b34fb"
SESSION_RUN_TIME = "00002aab-0000-1000-8000-00805f9b34fb"
RACP = "00002a52-0000-1000-8000-00805f9b34fb"
SOCP = "00002aac-0000-1000-8000-00805f9b34fb"

FEATURE_E2E_CRC = 1 << 12
FEATURE_TREND = 1 << 15
FEATURE_QUALITY = 1 << 16

FLAG_TREND = 0x01
FLAG_QUALITY = 0x02
FLAG_WARNING_OCTET = 0x20
FLAG_CAL_TEMP_OCTET = 0x40
FLAG_STATUS_OCTET = 0x80

STATUS_SESSION_STOPPED = 1 << 0
STATUS_RESULT_TOO_LOW = 1 << 22
STATUS_RESULT_TOO_HIGH = 1 << 23

SOCP_START_SESSION = 0x1A
SOCP_STOP_SESSION = 0x1B
SOCP_RESPONSE = 0x1C


class CgmValueError(ValueError):
    """A CGMS value that breaks its layout."""


class CrcMismatch(CgmValueError):
    """An E2E-CRC that does not match its data: corrupted in transit or on the sensor."""


@dataclass(frozen=True)
class Feature:
    bits: int
    sample_type: int
    location: int

    @property
    def e2e_crc(self) -> bool:
        return bool(self.bits & FEATURE_E2E_CRC)


def parse_feature(value: bytes) -> Feature:
    if len(value) != 6:
        raise CgmValueError(f"CGM Feature should be 6 bytes, got {value.hex()}")
    bits = int.from_bytes(value[:3], "little")
    feature = Feature(bits, value[3] & 0x0F, value[3] >> 4)
    if feature.e2e_crc and not split_checked(value)[1]:
        raise CrcMismatch(f"CGM Feature {value.hex()} has a wrong E2E-CRC")
    return feature


def _unprotect(value: bytes, e2e: bool, what: str) -> bytes:
    if not e2e:
        return value
    body, ok = split_checked(value)
    if not ok:
        raise CrcMismatch(f"{what} {value.hex()} has a wrong E2E-CRC")
    return body


@dataclass(frozen=True)
class CgmMeasurement:
    glucose_mg_dl: float | None
    time_offset_minutes: int
    status: int
    trend: float | None
    quality: float | None

    @property
    def too_low(self) -> bool:
        return bool(self.status & STATUS_RESULT_TOO_LOW)

    @property
    def too_high(self) -> bool:
        return bool(self.status & STATUS_RESULT_TOO_HIGH)


def parse_measurements(value: bytes, e2e: bool) -> list[CgmMeasurement]:
    """Every record in one CGM Measurement value (a value may carry several)."""
    records: list[CgmMeasurement] = []
    pos = 0
    while pos < len(value):
        size = value[pos]
        if size < 6 or pos + size > len(value):
            raise CgmValueError(f"CGM Measurement record of size {size} at {pos} in {value.hex()}")
        records.append(_parse_record(_unprotect(value[pos : pos + size], e2e, "CGM Measurement")))
        pos += size
    return records


def _parse_record(record: bytes) -> CgmMeasurement:
    try:
        flags = record[1]
        glucose = decode_sfloat(record, 2).value
        offset = struct.unpack_from("<H", record, 4)[0]
        pos = 6
        status = 0
        for flag, shift in (
            (FLAG_STATUS_OCTET, 0),
            (FLAG_CAL_TEMP_OCTET, 8),
            (FLAG_WARNING_OCTET, 16),
        ):
            if flags & flag:
                status |= record[pos] << shift
                pos += 1
        trend = quality = None
        if flags & FLAG_TREND:
            trend = decode_sfloat(record, pos).value
            pos += 2
        if flags & FLAG_QUALITY:
            quality = decode_sfloat(record, pos).value
            pos += 2
    except (IndexError, struct.error, ValueError) as exc:
        raise CgmValueError(f"malformed CGM Measurement record {record.hex()}: {exc}") from None
    if pos != len(record):
        raise CgmValueError(
            f"CGM Measurement record {record.hex()} has {len(record) - pos} extra bytes"
        )
    return CgmMeasurement(glucose, offset, status, trend, quality)


@dataclass(frozen=True)
class SessionStartTime:
    local_start: datetime
    utc_offset_minutes: int | None
    """Time Zone plus DST in minutes east of UTC; None when the sensor does not know it."""


def parse_session_start_time(value: bytes, e2e: bool) -> SessionStartTime:
    body = _unprotect(value, e2e, "CGM Session Start Time")
    if len(body) != 9:
        raise CgmValueError(f"CGM Session Start Time should be 9 bytes, got {body.hex()}")
    try:
        start = decode_date_time(body)
    except ValueError as exc:
        raise CgmValueError(f"CGM Session Start Time {body.hex()}: {exc}") from None
    time_zone = struct.unpack_from("<b", body, 7)[0]
    return SessionStartTime(start, utc_offset_minutes(time_zone, body[8]))


def parse_session_run_time(value: bytes, e2e: bool) -> int:
    body = _unprotect(value, e2e, "CGM Session Run Time")
    if len(body) != 2:
        raise CgmValueError(f"CGM Session Run Time should be 2 bytes, got {body.hex()}")
    return int(struct.unpack("<H", body)[0])


@dataclass(frozen=True)
class CgmStatus:
    time_offset_minutes: int
    status: int


def parse_status(value: bytes, e2e: bool) -> CgmStatus:
    body = _unprotect(value, e2e, "CGM Status")
    if len(body) != 5:
        raise CgmValueError(f"CGM Status should be 5 bytes, got {body.hex()}")
    return CgmStatus(struct.unpack_from("<H", body)[0], int.from_bytes(body[2:5], "little"))


def socp_request(op: int, operand: bytes = b"", e2e: bool = False) -> bytes:
    body = bytes([op]) + operand
    return append_crc(body) if e2e else body


def parse_socp_response(value: bytes, e2e: bool) -> tuple[int, int]:
    """(request op code, response code) of a SOCP response indication."""
    body = _unprotect(value, e2e, "CGM Specific Ops Control Point response")
    if len(body) < 3 or body[0] != SOCP_RESPONSE:
        raise CgmValueError(f"not a SOCP response: {value.hex()}")
    return body[1], body[2]
