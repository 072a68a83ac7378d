"""Continuous Glucose Monitoring Service (CGMS 0x181F), device side: the values the sensor
sends, the control points it accepts, and which records a RACP request designates.

Specification: Continuous Glucose Monitoring Service / Profile and the characteristic
definitions of CGM Measurement (0x2AA7), CGM Feature (0x2AA8), CGM Status (0x2AA9), CGM
Session Start Time (0x2AAA), CGM Session Run Time (0x2AAB), CGM Specific Ops Control Point
(SOCP, 0x2AAC) and RACP (0x2A52, filter type 1 = time offset); facts checked in
../shared/specs/ble-medical-services.md. Little-endian.

- Measurement: size u8 (of the whole value, CRC included), flags u8 (bit 0 trend present,
  1 quality present, 5 warning octet present, 6 cal/temp octet present, 7 status octet
  present), glucose SFLOAT (mg/dL), time offset u16 (minutes since the session start),
  the sensor status annunciation octets that are flagged, in the order status (bits 0-7),
  cal/temp (bits 8-15), warning (bits 16-23) (the order tests/vectors/ble/cgms.json fixes);
  the emulator sends the status octet whenever any annunciation bit is set (even if its
  own bits are 0, as the vectors do) and the other two only when they are not 0,
  [trend SFLOAT (mg/dL)/min], [quality SFLOAT %], [E2E-CRC].
- Feature: features u24, type (low nibble) / sample location (high nibble), E2E-CRC
  (0xFFFF when the E2E-CRC feature is off). Status: time offset u16, status u24, [CRC].
  Session Start Time: Date Time, Time Zone s8, DST Offset u8, [CRC]. Session Run Time:
  expected run time in hours u16, [CRC].
- SOCP: op code u8, operand, [CRC]; answered by an indication ``1C <request op code>
  <response code> [CRC]`` (28 response code) or a value response (3 communication
  interval). Response codes: 1 success, 2 op code not supported, 3 invalid operand,
  4 procedure not completed, 5 parameter out of range.
- With E2E-CRC on, a written SOCP or Session Start Time value without a CRC is refused with
  ATT error 0x80 (Missing CRC) and one with a wrong CRC with 0x81 (Invalid CRC); CGMS
  therefore signals a busy RACP/SOCP with 0xFE (Procedure Already in Progress) and an
  unconfigured CCCD with 0xFD (CCCD Improperly Configured), the common profile error codes,
  not GLS's 0x80/0x81. RACP values carry no CRC.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from datetime import datetime

from emulator.model.cgm import CgmRecord
from emulator.protocols import racp
from emulator.protocols.ble_time import (
    date_time,
    dst_offset,
    parse_date_time,
    parse_dst_offset,
    parse_time_zone,
    time_zone,
)
from emulator.protocols.e2e_crc import crc16, strip_crc, with_crc
from emulator.protocols.ieee11073 import sfloat, sfloat_of

ATT_MISSING_CRC = 0x80
ATT_INVALID_CRC = 0x81
ATT_CCCD_IMPROPERLY_CONFIGURED = 0xFD
ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0xFE
ATT_OUT_OF_RANGE = 0xFF


class MeasurementFlag(enum.IntFlag):
    TREND = 0x01
    QUALITY = 0x02
    WARNING_OCTET = 0x20
    CAL_TEMP_OCTET = 0x40
    STATUS_OCTET = 0x80


class Status(enum.IntFlag):
    """Sensor Status Annunciation (24 bits)."""

    SESSION_STOPPED = 1 << 0
    BATTERY_LOW = 1 << 1
    SENSOR_TYPE_INCORRECT = 1 << 2
    SENSOR_MALFUNCTION = 1 << 3
    DEVICE_SPECIFIC_ALERT = 1 << 4
    GENERAL_DEVICE_FAULT = 1 << 5
    TIME_SYNC_REQUIRED = 1 << 8
    CALIBRATION_NOT_ALLOWED = 1 << 9
    CALIBRATION_RECOMMENDED = 1 << 10
    CALIBRATION_REQUIRED = 1 << 11
    TEMPERATURE_TOO_HIGH = 1 << 12
    TEMPERATURE_TOO_LOW = 1 << 13
    BELOW_PATIENT_LOW = 1 << 16
    ABOVE_PATIENT_HIGH = 1 << 17
    BELOW_HYPO = 1 << 18
    ABOVE_HYPER = 1 << 19
    RATE_OF_DECREASE_EXCEEDED = 1 << 20
    RATE_OF_INCREASE_EXCEEDED = 1 << 21
    RESULT_TOO_LOW = 1 << 22
    RESULT_TOO_HIGH = 1 << 23


class Feature(enum.IntFlag):
    CALIBRATION = 1 << 0
    PATIENT_HIGH_LOW_ALERTS = 1 << 1
    HYPO_ALERTS = 1 << 2
    HYPER_ALERTS = 1 << 3
    RATE_ALERTS = 1 << 4
    DEVICE_SPECIFIC_ALERT = 1 << 5
    SENSOR_MALFUNCTION_DETECTION = 1 << 6
    TEMPERATURE_HIGH_LOW_DETECTION = 1 << 7
    RESULT_HIGH_LOW_DETECTION = 1 << 8
    LOW_BATTERY_DETECTION = 1 << 9
    SENSOR_TYPE_ERROR_DETECTION = 1 << 10
    GENERAL_DEVICE_FAULT = 1 << 11
    E2E_CRC = 1 << 12
    MULTIPLE_BOND = 1 << 13
    MULTIPLE_SESSIONS = 1 << 14
    TREND = 1 << 15
    QUALITY = 1 << 16


SENSOR_FEATURES = (
    Feature.SENSOR_MALFUNCTION_DETECTION
    | Feature.RESULT_HIGH_LOW_DETECTION
    | Feature.LOW_BATTERY_DETECTION
    | Feature.MULTIPLE_BOND
    | Feature.MULTIPLE_SESSIONS
    | Feature.TREND
    | Feature.QUALITY
)
"""What the emulated sensor reports (plus E2E_CRC when that option is on)."""

TYPE_INTERSTITIAL_FLUID = 9
LOCATION_SUBCUTANEOUS_TISSUE = 5

GLUCOSE_EXPONENT = 0  # mg/dL, whole
TREND_EXPONENT = -1  # (mg/dL)/min to 0.1
QUALITY_EXPONENT = 0  # whole percent

FILTER_TIME_OFFSET = 1
FILTERS: dict[int, racp.FilterType] = {
    FILTER_TIME_OFFSET: racp.FilterType(FILTER_TIME_OFFSET, "time offset", 2, racp.u16_operand)
}


class SocpOp(enum.IntEnum):
    SET_COMMUNICATION_INTERVAL = 1
    GET_COMMUNICATION_INTERVAL = 2
    COMMUNICATION_INTERVAL_RESPONSE = 3
    SET_CALIBRATION_VALUE = 4
    GET_CALIBRATION_VALUE = 5
    CALIBRATION_VALUE_RESPONSE = 6
    SET_PATIENT_HIGH_ALERT = 7
    GET_PATIENT_HIGH_ALERT = 8
    PATIENT_HIGH_ALERT_RESPONSE = 9
    SET_PATIENT_LOW_ALERT = 10
    GET_PATIENT_LOW_ALERT = 11
    PATIENT_LOW_ALERT_RESPONSE = 12
    SET_HYPO_ALERT = 13
    GET_HYPO_ALERT = 14
    HYPO_ALERT_RESPONSE = 15
    SET_HYPER_ALERT = 16
    GET_HYPER_ALERT = 17
    HYPER_ALERT_RESPONSE = 18
    SET_RATE_OF_DECREASE_ALERT = 19
    GET_RATE_OF_DECREASE_ALERT = 20
    RATE_OF_DECREASE_ALERT_RESPONSE = 21
    SET_RATE_OF_INCREASE_ALERT = 22
    GET_RATE_OF_INCREASE_ALERT = 23
    RATE_OF_INCREASE_ALERT_RESPONSE = 24
    RESET_DEVICE_SPECIFIC_ALERT = 25
    START_SESSION = 26
    STOP_SESSION = 27
    RESPONSE_CODE = 28


class SocpResponse(enum.IntEnum):
    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERAND = 3
    PROCEDURE_NOT_COMPLETED = 4
    PARAMETER_OUT_OF_RANGE = 5


def _protect(value: bytes, e2e: bool, corrupt: bool = False) -> bytes:
    return with_crc(value, corrupt=corrupt) if e2e else value


def encode_measurement(
    glucose_mg_dl: int,
    time_offset: int,
    *,
    status: int = 0,
    trend: float | None = None,
    quality: float | None = None,
    e2e: bool = False,
    corrupt_crc: bool = False,
) -> bytes:
    """A CGM Measurement value (``corrupt_crc`` sends a wrong E2E-CRC on purpose)."""
    flags = MeasurementFlag(0)
    tail = b""
    if status:
        flags |= MeasurementFlag.STATUS_OCTET
        tail += bytes([status & 0xFF])
    if status >> 8 & 0xFF:
        flags |= MeasurementFlag.CAL_TEMP_OCTET
        tail += bytes([status >> 8 & 0xFF])
    if status >> 16 & 0xFF:
        flags |= MeasurementFlag.WARNING_OCTET
        tail += bytes([status >> 16 & 0xFF])
    if trend is not None:
        flags |= MeasurementFlag.TREND
        tail += sfloat_of(trend, TREND_EXPONENT)
    if quality is not None:
        flags |= MeasurementFlag.QUALITY
        tail += sfloat_of(quality, QUALITY_EXPONENT)
    body = (
        bytes([flags])
        + sfloat(glucose_mg_dl, GLUCOSE_EXPONENT)
        + struct.pack("<H", time_offset)
        + tail
    )
    size = 1 + len(body) + (2 if e2e else 0)
    return _protect(bytes([size]) + body, e2e, corrupt_crc)


def measurement_of(record: CgmRecord, *, e2e: bool, corrupt_crc: bool = False) -> bytes:
    """The CGM Measurement the emulated sensor sends for one stored reading."""
    return encode_measurement(
        record.value_mg_dl,
        record.time_offset,
        status=record.status,
        trend=record.trend,
        quality=record.quality,
        e2e=e2e,
        corrupt_crc=corrupt_crc,
    )


def encode_feature(
    features: int = SENSOR_FEATURES,
    *,
    e2e: bool,
    sample_type: int = TYPE_INTERSTITIAL_FLUID,
    location: int = LOCATION_SUBCUTANEOUS_TISSUE,
) -> bytes:
    """CGM Feature; the E2E-CRC bit follows ``e2e`` and the CRC field is 0xFFFF without it."""
    features = (features | Feature.E2E_CRC) if e2e else (features & ~Feature.E2E_CRC)
    value = struct.pack("<I", features)[:3] + bytes([(location & 0x0F) << 4 | sample_type & 0x0F])
    crc = crc16(value) if e2e else 0xFFFF
    return value + struct.pack("<H", crc)


def encode_status(time_offset: int, status: int, *, e2e: bool) -> bytes:
    return _protect(struct.pack("<H", time_offset) + struct.pack("<I", status)[:3], e2e)


def encode_session_start_time(
    start: datetime | None,
    time_zone_minutes: int | None,
    dst_minutes: int | None,
    *,
    e2e: bool,
) -> bytes:
    """Session Start Time; ``start`` None (no session yet) is the all-unknown Date Time."""
    when = date_time(start) if start is not None else bytes(7)
    return _protect(when + time_zone(time_zone_minutes) + dst_offset(dst_minutes), e2e)


def parse_session_start_time(value: bytes, *, e2e: bool) -> tuple[datetime, int | None, int | None]:
    """A written Session Start Time: (time, zone minutes, DST minutes).

    Raises ``CrcError`` (missing/wrong CRC when ``e2e``) or ValueError (a bad length, time,
    zone or DST code)."""
    payload = strip_crc(value, min_payload=9) if e2e else value
    if len(payload) != 9:
        raise ValueError(f"Session Start Time is 9 bytes without CRC, got {len(payload)}")
    when = parse_date_time(payload[:7])
    (zone_code,) = struct.unpack("<b", payload[7:8])
    return when, parse_time_zone(zone_code), parse_dst_offset(payload[8])


def encode_run_time(hours: int, *, e2e: bool) -> bytes:
    return _protect(struct.pack("<H", hours), e2e)


@dataclass(frozen=True)
class SocpRequest:
    op: int
    operand: bytes


def parse_socp(value: bytes, *, e2e: bool) -> SocpRequest:
    """A SOCP write; raises ``CrcError`` when ``e2e`` and its CRC is missing or wrong."""
    payload = strip_crc(value, min_payload=1) if e2e else value
    if not payload:
        return SocpRequest(0, b"")
    return SocpRequest(payload[0], payload[1:])


def socp_response(request_op: int, code: SocpResponse, *, e2e: bool) -> bytes:
    return _protect(bytes([SocpOp.RESPONSE_CODE, request_op, code]), e2e)


def communication_interval_response(minutes: int, *, e2e: bool) -> bytes:
    return _protect(bytes([SocpOp.COMMUNICATION_INTERVAL_RESPONSE, minutes]), e2e)


def record_key(filter_type: int, record: CgmRecord) -> int:
    """A record's key under a RACP filter type (CGMS knows only the time offset)."""
    return record.time_offset
