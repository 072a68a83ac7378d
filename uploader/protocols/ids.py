"""Insulin Delivery Service (IDS, 0x183A), collector side: what an insulin pump sends.

Spec: Bluetooth SIG Insulin Delivery Service 1.0.x (notes and the facts checked against open
collectors: ../shared/specs/ble-medical-services.md). Numbers are little-endian; amounts and
rates are IEEE 11073 SFLOAT (units, units/hour); enumerations are Hamming-distance coded
(0x0F undetermined, then 0x33, 0x3C, 0x55, 0x5A, 0x66, 0x69, 0x96, ...).

Characteristics and the layouts parsed here:

- IDD Features 0x2B23: E2E-CRC u16, E2E-Counter u8, insulin concentration SFLOAT, flags u24
  (bit 0 E2E protection supported); the CRC covers the bytes after it.
- IDD Status 0x2B21: therapy control state, operational state, reservoir remaining SFLOAT,
  flags (bit 0 reservoir attached). IDD Status Changed 0x2B20: flags u16. IDD Annunciation
  Status 0x2B22: flags (bit 0 annunciation present, bits 1-5 aux info 1-5 present), instance
  id u16, type u16, status, aux info.
- Control points (Status Reader 0x2B24, Command 0x2B25, Command Data 0x2B26): op code u16
  then operands; response code ``<op> <request op u16> <code>``.
- IDD Record Access Control Point 0x2B27: op code, operator, filter type (0x0F record number)
  and u32 operands; a count ``66 0F <u32>``, a response code ``0F 0F <request op> <code>``.
- IDD History Data 0x2B28: event type u16, record number u32, relative offset u16 (seconds
  since the Reference Time event in force), event data. Events too long for one value come
  in parts (bolus programmed/delivered, annunciation status changed) with the same relative
  offset in consecutive records; ``join_events`` puts them together.
- E2E protection (when the feature flag says so): every value ends with E2E-Counter u8 and
  E2E-CRC u16 over everything before it; History Data carries the CRC only. The CRC is
  ``uploader.protocols.e2e_crc``. A mismatch raises ``IntegrityError``.

The Reference Time event's Date Time is the pump's base time in UTC; its time zone (count of
15 minutes) and DST offset give the pump's local (display) time, as in Tidepool's
InsulinDeliveryServiceKit.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from uploader.protocols.ble_time import (
    DATE_TIME_SIZE,
    DST_MINUTES,
    TIME_ZONE_UNKNOWN,
    decode_date_time,
)
from uploader.protocols.e2e_crc import append_crc, crc16
from uploader.protocols.ieee11073 import decode_sfloat


def _uuid(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


SERVICE = _uuid(0x183A)
STATUS_CHANGED = _uuid(0x2B20)
STATUS = _uuid(0x2B21)
ANNUNCIATION_STATUS = _uuid(0x2B22)
FEATURES = _uuid(0x2B23)
STATUS_READER_CP = _uuid(0x2B24)
COMMAND_CP = _uuid(0x2B25)
COMMAND_DATA = _uuid(0x2B26)
RACP = _uuid(0x2B27)
HISTORY_DATA = _uuid(0x2B28)

UNDETERMINED = 0x0F


class IdsFormatError(ValueError):
    """A value that does not follow its characteristic's layout."""


class IntegrityError(ValueError):
    """A value whose E2E-CRC or E2E-Counter is wrong."""


# --- E2E protection -------------------------------------------------------------------


def unprotect(value: bytes, e2e: bool, *, counter: bool = True, what: str = "value") -> bytes:
    """``value`` without its E2E trailer (counter and CRC, or CRC only), CRC checked."""
    if not e2e:
        return value
    size = 3 if counter else 2
    if len(value) < size + 1:
        raise IntegrityError(f"{what} {value.hex()} is too short to carry its E2E-CRC")
    body, sent = value[:-2], int.from_bytes(value[-2:], "little")
    if crc16(body) != sent:
        raise IntegrityError(
            f"{what} {value.hex()} fails its E2E-CRC (sent {sent:04x}, computed {crc16(body):04x})"
        )
    return body[:-1] if counter else body


def e2e_counter(value: bytes) -> int:
    """The E2E-Counter of a protected value (the byte before the CRC)."""
    return value[-3]


def protect(body: bytes, e2e: bool, counter: int) -> bytes:
    """A collector's request with the E2E trailer when the pump wants one."""
    if not e2e:
        return body
    return append_crc(body + bytes([counter & 0xFF]))


class CounterCheck:
    """E2E-Counters of one characteristic: a value that repeats the previous counter is a
    replayed or duplicated value (the sender increments it for every value it sends)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last: int | None = None

    def check(self, counter: int) -> None:
        if self.last is not None and counter == self.last:
            raise IntegrityError(f"{self.what} repeated its E2E-Counter {counter}")
        self.last = counter


# --- numbers --------------------------------------------------------------------------


def sfloat(raw: bytes, offset: int) -> float | None:
    return decode_sfloat(raw, offset).value


def _amount(raw: bytes, offset: int, what: str) -> float:
    value = sfloat(raw, offset)
    if value is None:
        raise IdsFormatError(f"{what} is not a number (SFLOAT special value)")
    return round(value, 4)


# --- features, status, annunciations ---------------------------------------------------


FEATURE_E2E = 1 << 0
FEATURE_BASAL_RATE = 1 << 1
FEATURE_TBR_ABSOLUTE = 1 << 2
FEATURE_TBR_RELATIVE = 1 << 3
FEATURE_BOLUS_EXTENDED = 1 << 6
FEATURE_BOLUS_MULTIWAVE = 1 << 7
FEATURE_ISF_PROFILE = 1 << 12
FEATURE_I2CHO_PROFILE = 1 << 13
FEATURE_TARGET_RANGE_PROFILE = 1 << 14


@dataclass(frozen=True)
class Features:
    flags: int
    insulin_concentration: float | None

    @property
    def e2e(self) -> bool:
        return bool(self.flags & FEATURE_E2E)


def parse_features(value: bytes) -> Features:
    if len(value) < 8:
        raise IdsFormatError(f"IDD Features {value.hex()} is shorter than 8 bytes")
    concentration = sfloat(value, 3)
    flags = int.from_bytes(value[5:8], "little")
    if flags & FEATURE_E2E and crc16(value[2:]) != int.from_bytes(value[:2], "little"):
        raise IntegrityError(f"IDD Features {value.hex()} fails its E2E-CRC")
    return Features(flags, concentration)


class TherapyState(enum.IntEnum):
    UNDETERMINED = 0x0F
    STOP = 0x33
    PAUSE = 0x3C
    RUN = 0x55


class OperationalState(enum.IntEnum):
    UNDETERMINED = 0x0F
    OFF = 0x33
    STANDBY = 0x3C
    PREPARING = 0x55
    PRIMING = 0x5A
    WAITING = 0x66
    READY = 0x96


@dataclass(frozen=True)
class Status:
    therapy: int
    operational: int
    reservoir_units: float | None
    reservoir_attached: bool


def parse_status(value: bytes, e2e: bool) -> Status:
    body = unprotect(value, e2e, what="IDD Status")
    if len(body) < 5:
        raise IdsFormatError(f"IDD Status {value.hex()} is shorter than 5 bytes")
    return Status(body[0], body[1], sfloat(body, 2), bool(body[4] & 0x01))


def parse_status_changed(value: bytes, e2e: bool) -> int:
    body = unprotect(value, e2e, what="IDD Status Changed")
    if len(body) < 2:
        raise IdsFormatError(f"IDD Status Changed {value.hex()} is shorter than 2 bytes")
    return int(struct.unpack_from("<H", body)[0])


class AnnunciationType(enum.IntEnum):
    """The annunciation types a collector maps to Tidepool alarms (others are ``other``)."""

    SYSTEM_ISSUE = 0x000F
    MECHANICAL_ISSUE = 0x0033
    OCCLUSION_DETECTED = 0x003C
    RESERVOIR_ISSUE = 0x0055
    RESERVOIR_EMPTY = 0x005A
    RESERVOIR_LOW = 0x0066
    PRIMING_ISSUE = 0x0069
    INFUSION_SET_INCOMPLETE = 0x0096
    INFUSION_SET_DETACHED = 0x0099
    POWER_SOURCE_INSUFFICIENT = 0x00A5
    BATTERY_EMPTY = 0x00AA
    BATTERY_LOW = 0x00C3
    BATTERY_MEDIUM = 0x00CC
    BATTERY_FULL = 0x00F0
    TEMPERATURE_OUT_OF_RANGE = 0x00FF
    AIR_PRESSURE_OUT_OF_RANGE = 0x0303
    BOLUS_CANCELED = 0x030C
    TBR_OVER = 0x0330
    TBR_CANCELED = 0x033F
    MAX_DELIVERY = 0x0356
    DATE_TIME_ISSUE = 0x0359
    TEMPERATURE = 0x0365


class AnnunciationStatusValue(enum.IntEnum):
    UNDETERMINED = 0x0F
    PENDING = 0x33
    SNOOZED = 0x3C
    CONFIRMED = 0x55


@dataclass(frozen=True)
class Annunciation:
    instance_id: int
    type: int
    status: int
    aux: tuple[int, ...] = ()


def parse_annunciation_status(value: bytes, e2e: bool) -> Annunciation | None:
    """The annunciation the pump shows, or None when there is none."""
    body = unprotect(value, e2e, what="IDD Annunciation Status")
    if not body:
        raise IdsFormatError("empty IDD Annunciation Status")
    flags = body[0]
    if not flags & 0x01:
        return None
    try:
        instance, kind = struct.unpack_from("<HH", body, 1)
        status = body[5]
        aux = tuple(
            struct.unpack_from("<H", body, 6 + 2 * i)[0]
            for i in range(sum(1 for bit in range(1, 6) if flags & (1 << bit)))
        )
    except (IndexError, struct.error):
        raise IdsFormatError(f"malformed IDD Annunciation Status {value.hex()}") from None
    return Annunciation(instance, kind, status, aux)


# --- control points ------------------------------------------------------------------


class StatusReaderOp(enum.IntEnum):
    RESPONSE_CODE = 0x0303
    RESET_STATUS = 0x030C
    GET_ACTIVE_BOLUS_IDS = 0x0330
    GET_ACTIVE_BOLUS_IDS_RESPONSE = 0x033F
    GET_ACTIVE_BASAL_RATE_DELIVERY = 0x0365
    GET_ACTIVE_BASAL_RATE_DELIVERY_RESPONSE = 0x036A
    GET_TOTAL_DAILY_INSULIN_STATUS = 0x0395
    GET_TOTAL_DAILY_INSULIN_STATUS_RESPONSE = 0x039A


class CommandOp(enum.IntEnum):
    RESPONSE_CODE = 0x0F55
    READ_BASAL_RATE_TEMPLATE = 0x0FAA
    READ_BASAL_RATE_TEMPLATE_RESPONSE = 0x0FC3
    GET_TEMPLATE_STATUS_AND_DETAILS = 0x11EE
    GET_TEMPLATE_STATUS_AND_DETAILS_RESPONSE = 0x1212
    GET_ACTIVATED_PROFILE_TEMPLATES = 0x1248
    GET_ACTIVATED_PROFILE_TEMPLATES_RESPONSE = 0x1274
    READ_ISF_TEMPLATE = 0x12B8
    READ_ISF_TEMPLATE_RESPONSE = 0x12D1
    READ_I2CHO_TEMPLATE = 0x12ED
    READ_I2CHO_TEMPLATE_RESPONSE = 0x1414
    READ_TARGET_RANGE_TEMPLATE = 0x1428
    READ_TARGET_RANGE_TEMPLATE_RESPONSE = 0x1441


CP_SUCCESS = 0x0F
CP_RESPONSE_CODES = {
    0x0F: "success",
    0x70: "op code not supported",
    0x71: "invalid operand",
    0x72: "procedure not completed",
    0x73: "parameter out of range",
    0x74: "procedure not applicable",
    0x75: "plausibility check failed",
    0x76: "maximum bolus number reached",
}


class TemplateType(enum.IntEnum):
    UNDETERMINED = 0x0F
    BASAL_RATE = 0x33
    TBR = 0x3C
    BOLUS = 0x55
    ISF = 0x5A
    I2CHO = 0x66
    TARGET_RANGE = 0x96


def cp_request(op: int, operand: bytes = b"") -> bytes:
    """A control point request (without E2E: see ``protect``)."""
    return struct.pack("<H", op) + operand


@dataclass(frozen=True)
class CpResponse:
    """A control point or Command Data value: its op code and what follows."""

    op: int
    operand: bytes

    def response_code(self) -> tuple[int, int]:
        """(request op code, response code) of a response-code value."""
        if len(self.operand) < 3:
            raise IdsFormatError(f"short response code {self.operand.hex()}")
        return struct.unpack_from("<H", self.operand)[0], self.operand[2]


def parse_cp(value: bytes, e2e: bool, what: str = "control point value") -> CpResponse:
    body = unprotect(value, e2e, what=what)
    if len(body) < 2:
        raise IdsFormatError(f"{what} {value.hex()} is shorter than its op code")
    return CpResponse(struct.unpack_from("<H", body)[0], body[2:])


def describe_cp_code(code: int) -> str:
    return CP_RESPONSE_CODES.get(code, f"response code 0x{code:02x}")


@dataclass(frozen=True)
class TotalDailyInsulin:
    """Get Total Daily Insulin Status response: today's sums so far (the pump's day)."""

    bolus_units: float | None
    basal_units: float | None
    total_units: float | None


def parse_total_daily_insulin(operand: bytes) -> TotalDailyInsulin:
    if len(operand) < 6:
        raise IdsFormatError(f"short Get Total Daily Insulin Status response {operand.hex()}")
    return TotalDailyInsulin(sfloat(operand, 0), sfloat(operand, 2), sfloat(operand, 4))


@dataclass(frozen=True)
class ActiveBasalDelivery:
    """Get Active Basal Rate Delivery response (the parts a collector shows)."""

    template: int
    current_rate: float | None
    tbr_running: bool


def parse_active_basal_delivery(operand: bytes) -> ActiveBasalDelivery:
    if len(operand) < 4:
        raise IdsFormatError(f"short Get Active Basal Rate Delivery response {operand.hex()}")
    return ActiveBasalDelivery(operand[1], sfloat(operand, 2), bool(operand[0] & 0x01))


@dataclass(frozen=True)
class TemplateDetails:
    template_type: int
    first: int
    count: int
    max_blocks: int
    configured: tuple[int, ...]
    """Template numbers whose "configured" bit is set."""


def parse_template_details(operand: bytes) -> TemplateDetails:
    """Get Template Status and Details response: type, first number, count, max time
    blocks, then 2 bits per template (bit 0 configurable, bit 1 configured)."""
    if len(operand) < 4:
        raise IdsFormatError(f"short template details {operand.hex()}")
    kind, first, count, max_blocks = operand[:4]
    configured = []
    for i in range(count):
        byte = 4 + i // 4
        if byte < len(operand) and operand[byte] >> (2 * (i % 4)) & 0x02:
            configured.append(first + i)
    return TemplateDetails(kind, first, count, max_blocks, tuple(configured))


def parse_activated_templates(operand: bytes) -> dict[int, int]:
    """Get Activated Profile Templates response: count, then (type, number) pairs."""
    if not operand:
        raise IdsFormatError("empty activated profile templates response")
    count = operand[0]
    pairs = operand[1 : 1 + 2 * count]
    if len(pairs) < 2 * count:
        raise IdsFormatError(f"short activated profile templates {operand.hex()}")
    return {pairs[2 * i]: pairs[2 * i + 1] for i in range(count)}


@dataclass(frozen=True)
class TimeBlock:
    """One time block of a profile template: ``values`` are its SFLOATs (a rate; an ISF;
    a ratio; or the lower and upper target)."""

    index: int
    duration_min: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class TemplateChunk:
    template: int
    blocks: tuple[TimeBlock, ...]


def parse_template_chunk(operand: bytes, values_per_block: int, max_blocks: int) -> TemplateChunk:
    """A Read ... Template response: flags (bit 0 second block present, bit 1 third), template
    number, first time block index, then blocks of duration (u16 minutes) and SFLOAT(s)."""
    try:
        flags, template, first = operand[0], operand[1], operand[2]
        present = 1 + sum(1 for bit in range(max_blocks - 1) if flags & (1 << bit))
        blocks = []
        pos = 3
        for i in range(present):
            duration = struct.unpack_from("<H", operand, pos)[0]
            pos += 2
            values = []
            for _ in range(values_per_block):
                values.append(_amount(operand, pos, "a template value"))
                pos += 2
            blocks.append(TimeBlock(first + i, duration, tuple(values)))
    except (IndexError, struct.error, ValueError):  # ValueError: an SFLOAT cut off
        raise IdsFormatError(f"malformed template response {operand.hex()}") from None
    return TemplateChunk(template, tuple(blocks))


# --- IDD Record Access Control Point -------------------------------------------------


class RacpOp(enum.IntEnum):
    RESPONSE_CODE = 0x0F
    REPORT_RECORDS = 0x33
    DELETE_RECORDS = 0x3C
    ABORT = 0x55
    REPORT_NUMBER = 0x5A
    NUMBER_RESPONSE = 0x66


class RacpOperator(enum.IntEnum):
    NULL = 0x0F
    ALL = 0x33
    LESS_OR_EQUAL = 0x3C
    GREATER_OR_EQUAL = 0x55
    WITHIN_RANGE = 0x5A
    FIRST = 0x66
    LAST = 0x69


FILTER_RECORD_NUMBER = 0x0F
RACP_SUCCESS = 0xF0
RACP_NO_RECORDS = 0x06
RACP_RESPONSE_CODES = {
    0xF0: "success",
    0x02: "op code not supported",
    0x03: "invalid operator",
    0x04: "operator not supported",
    0x05: "invalid operand",
    0x06: "no records found",
    0x07: "abort unsuccessful",
    0x08: "procedure not completed",
    0x09: "operand not supported",
    0x0A: "procedure not applicable",
}


def racp_request(op: RacpOp, operator: RacpOperator, *record_numbers: int) -> bytes:
    """An IDD RACP request; with record numbers, filtered on them (u32 operands)."""
    out = bytes([op, operator])
    if record_numbers:
        out += bytes([FILTER_RECORD_NUMBER]) + b"".join(
            struct.pack("<I", n) for n in record_numbers
        )
    return out


@dataclass(frozen=True)
class RacpResponse:
    number_of_records: int | None = None
    request_op: int | None = None
    code: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.code == RACP_SUCCESS

    def describe(self) -> str:
        if self.code is None:
            return f"{self.number_of_records} records"
        return RACP_RESPONSE_CODES.get(self.code, f"response code 0x{self.code:02x}")


def parse_racp(value: bytes, e2e: bool) -> RacpResponse:
    body = unprotect(value, e2e, what="IDD RACP value")
    if len(body) >= 6 and body[0] == RacpOp.NUMBER_RESPONSE and body[1] == RacpOperator.NULL:
        return RacpResponse(number_of_records=struct.unpack_from("<I", body, 2)[0])
    if len(body) >= 4 and body[0] == RacpOp.RESPONSE_CODE and body[1] == RacpOperator.NULL:
        return RacpResponse(request_op=body[2], code=body[3])
    raise IdsFormatError(f"not an IDD RACP response: {value.hex()}")


# --- IDD History Data ----------------------------------------------------------------


class EventType(enum.IntEnum):
    REFERENCE_TIME = 0x000F
    REFERENCE_TIME_BASE_OFFSET = 0x0033
    BOLUS_CALCULATED_1 = 0x003C
    BOLUS_CALCULATED_2 = 0x0055
    BOLUS_PROGRAMMED_1 = 0x005A
    BOLUS_PROGRAMMED_2 = 0x0066
    BOLUS_DELIVERED_1 = 0x0069
    BOLUS_DELIVERED_2 = 0x0096
    DELIVERED_BASAL_RATE_CHANGED = 0x0099
    TBR_STARTED = 0x00A5
    TBR_ENDED = 0x00AA
    TBR_CHANGED = 0x00C3
    PROFILE_TEMPLATE_ACTIVATED = 0x00CC
    BASAL_PROFILE_TIME_BLOCK_CHANGED = 0x00F0
    TOTAL_DAILY_INSULIN = 0x00FF
    THERAPY_CONTROL_STATE_CHANGED = 0x0303
    OPERATIONAL_STATE_CHANGED = 0x030C
    RESERVOIR_REMAINING_CHANGED = 0x0330
    ANNUNCIATION_STATUS_CHANGED_1 = 0x033F
    ANNUNCIATION_STATUS_CHANGED_2 = 0x0356
    ISF_PROFILE_TIME_BLOCK_CHANGED = 0x0359
    I2CHO_PROFILE_TIME_BLOCK_CHANGED = 0x0365
    TARGET_RANGE_PROFILE_TIME_BLOCK_CHANGED = 0x036A
    PRIMING_STARTED = 0x0395
    PRIMING_DONE = 0x039A
    DATA_CORRUPTION = 0x03A6
    POINTER = 0x03A9


class RecordingReason(enum.IntEnum):
    UNDETERMINED = 0x0F
    SET_DATE_TIME = 0x33
    PERIODIC = 0x3C
    DATE_TIME_LOSS = 0x55


class BolusType(enum.IntEnum):
    UNDETERMINED = 0x0F
    FAST = 0x33
    EXTENDED = 0x3C
    MULTIWAVE = 0x55


class BolusActivation(enum.IntEnum):
    UNDETERMINED = 0x0F
    MANUAL = 0x33
    RECOMMENDED = 0x3C
    MANUALLY_CHANGED_RECOMMENDED = 0x55
    COMMANDED = 0x5A


class BolusEndReason(enum.IntEnum):
    UNDETERMINED = 0x0F
    DELIVERED = 0x33
    CANCELED = 0x3C
    ERROR_ABORT = 0x55


class TbrType(enum.IntEnum):
    UNDETERMINED = 0x0F
    ABSOLUTE = 0x33
    RELATIVE = 0x3C


class TbrEndReason(enum.IntEnum):
    UNDETERMINED = 0x0F
    DURATION_OVER = 0x33
    CANCELED = 0x3C
    ERROR_ABORT = 0x55


class BasalContext(enum.IntEnum):
    UNDETERMINED = 0x0F
    DEVICE_BASED = 0x33
    REMOTE_CONTROL = 0x3C
    AID_CONTROLLER = 0x55


class PrimingEndReason(enum.IntEnum):
    UNDETERMINED = 0x0F
    ABORTED_BY_USER = 0x33
    AMOUNT_REACHED = 0x3C
    ERROR_ABORT = 0x55


@dataclass(frozen=True)
class HistoryRecord:
    """One History Data value, before its event data is interpreted."""

    event_type: int
    record_number: int
    relative_offset_s: int
    data: bytes


def parse_history(value: bytes, e2e: bool) -> HistoryRecord:
    body = unprotect(value, e2e, counter=False, what="IDD History Data")
    if len(body) < 8:
        raise IdsFormatError(f"IDD History Data {value.hex()} is shorter than 8 bytes")
    event_type, record, offset = struct.unpack_from("<HIH", body)
    return HistoryRecord(event_type, record, offset, body[8:])


# Interpreted events. ``record`` is the (first) record number; ``offset_s`` the relative
# offset; multi-part events keep the record number of their last part in ``last_record``.


@dataclass(frozen=True)
class ReferenceTime:
    record: int
    offset_s: int
    reason: int
    utc: datetime
    """The base time, UTC (the pump's clock as set)."""
    time_zone_min: int | None
    dst_min: int | None

    @property
    def local(self) -> datetime:
        """The pump's display time at the base time."""
        return self.utc + timedelta(minutes=(self.time_zone_min or 0) + (self.dst_min or 0))


@dataclass(frozen=True)
class ReferenceTimeBaseOffset:
    record: int
    offset_s: int
    reason: int
    base: datetime
    time_offset_min: int


@dataclass(frozen=True)
class BolusParts:
    """The common part 1 of bolus programmed and delivered: id, type, amounts, duration."""

    bolus_id: int
    bolus_type: int
    fast: float
    extended: float
    duration_min: int


@dataclass(frozen=True)
class BolusProgrammed:
    record: int
    offset_s: int
    last_record: int
    parts: BolusParts
    delay_min: int | None = None
    activation: int | None = None
    reason_correction: bool = False
    reason_meal: bool = False


@dataclass(frozen=True)
class BolusDelivered:
    record: int
    offset_s: int
    last_record: int
    parts: BolusParts
    start_offset_s: int
    """How long before this event the bolus started (seconds)."""
    activation: int | None = None
    end_reason: int | None = None
    annunciation_id: int | None = None


@dataclass(frozen=True)
class BasalRateChanged:
    record: int
    offset_s: int
    old_rate: float
    new_rate: float
    context: int | None = None


@dataclass(frozen=True)
class TbrStarted:
    record: int
    offset_s: int
    tbr_type: int
    value: float
    """U/h for an absolute TBR, percent of the scheduled rate for a relative one."""
    duration_min: int
    template: int | None = None
    context: int | None = None


@dataclass(frozen=True)
class TbrChanged:
    record: int
    offset_s: int
    tbr_type: int
    value: float
    duration_min: int
    elapsed_min: int
    template: int | None = None
    context: int | None = None


@dataclass(frozen=True)
class TbrEnded:
    record: int
    offset_s: int
    tbr_type: int
    last_value: float
    effective_min: int
    end_reason: int
    template: int | None = None
    annunciation_id: int | None = None


@dataclass(frozen=True)
class StateChanged:
    """Therapy control state or operational state changed (``kind`` says which)."""

    record: int
    offset_s: int
    kind: int
    old: int
    new: int


@dataclass(frozen=True)
class ReservoirChanged:
    record: int
    offset_s: int
    remaining: float


@dataclass(frozen=True)
class AnnunciationChanged:
    record: int
    offset_s: int
    last_record: int
    annunciation: Annunciation


@dataclass(frozen=True)
class PrimingStarted:
    record: int
    offset_s: int
    programmed: float


@dataclass(frozen=True)
class PrimingDone:
    record: int
    offset_s: int
    delivered: float
    end_reason: int
    annunciation_id: int | None = None


@dataclass(frozen=True)
class ProfileTemplateActivated:
    record: int
    offset_s: int
    template_type: int
    old: int
    new: int


@dataclass(frozen=True)
class TimeBlockChanged:
    """A profile template time block changed (basal rate, ISF, I:CHO, target range)."""

    record: int
    offset_s: int
    kind: int
    template: int
    block: int
    duration_min: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class OtherEvent:
    """An event the uploader reads past (total daily insulin, bolus calculated, pointer...)."""

    record: int
    offset_s: int
    event_type: int
    data: bytes = field(repr=False)


HistoryEvent = (
    ReferenceTime
    | ReferenceTimeBaseOffset
    | BolusProgrammed
    | BolusDelivered
    | BasalRateChanged
    | TbrStarted
    | TbrChanged
    | TbrEnded
    | StateChanged
    | ReservoirChanged
    | AnnunciationChanged
    | PrimingStarted
    | PrimingDone
    | ProfileTemplateActivated
    | TimeBlockChanged
    | OtherEvent
)


def _bolus_parts(data: bytes) -> BolusParts:
    bolus_id, bolus_type = struct.unpack_from("<HB", data)
    fast = _amount(data, 3, "bolus fast amount")
    extended = _amount(data, 5, "bolus extended amount")
    (duration,) = struct.unpack_from("<H", data, 7)
    return BolusParts(bolus_id, bolus_type, fast, extended, duration)


def _reference_time(r: HistoryRecord) -> ReferenceTime:
    reason = r.data[0]
    utc = decode_date_time(r.data, 1)
    zone = struct.unpack_from("<b", r.data, 1 + DATE_TIME_SIZE)[0]
    dst = r.data[2 + DATE_TIME_SIZE]
    reference = ReferenceTime(
        r.record_number,
        r.relative_offset_s,
        reason,
        utc,
        None if zone == TIME_ZONE_UNKNOWN else zone * 15,
        DST_MINUTES.get(dst),
    )
    try:
        _ = reference.local
    except OverflowError:  # 9999-12-31 23:59 plus a time zone east of UTC
        raise ValueError("its local time falls outside the calendar") from None
    return reference


def _two_part(first: HistoryRecord, second: HistoryRecord) -> HistoryEvent:
    kind = first.event_type
    rec, off, last = first.record_number, first.relative_offset_s, second.record_number
    d1, d2 = first.data, second.data
    if kind == EventType.BOLUS_PROGRAMMED_1:
        flags = d2[0]
        pos = 1
        delay = activation = None
        if flags & 0x01:
            delay = struct.unpack_from("<H", d2, pos)[0]
            pos += 2
        if flags & 0x02:
            pos += 1  # template number
        if flags & 0x04:
            activation = d2[pos]
            pos += 1
        return BolusProgrammed(
            rec,
            off,
            last,
            _bolus_parts(d1),
            delay,
            activation,
            bool(flags & 0x08),
            bool(flags & 0x10),
        )
    if kind == EventType.BOLUS_DELIVERED_1:
        flags = d2[0]
        (start,) = struct.unpack_from("<I", d2, 1)
        pos = 5
        activation = end = annunciation = None
        if flags & 0x01:
            activation = d2[pos]
            pos += 1
        if flags & 0x02:
            end = d2[pos]
            pos += 1
        if flags & 0x04:
            annunciation = struct.unpack_from("<H", d2, pos)[0]
        return BolusDelivered(
            rec, off, last, _bolus_parts(d1), start, activation, end, annunciation
        )
    # annunciation status changed: both parts' flags as in IDD Annunciation Status (bit 0
    # annunciation present, bits 1-5 aux info 1-5 present); part 1 holds aux info 1-2, part
    # 2 aux info 3-5
    flags1, flags2 = d1[0], d2[0]
    instance, kind_a = struct.unpack_from("<HH", d1, 1)
    status = d1[5]
    aux: list[int] = []
    pos = 6
    for bit in (1, 2):
        if flags1 & (1 << bit):
            aux.append(struct.unpack_from("<H", d1, pos)[0])
            pos += 2
    pos = 1
    for bit in (3, 4, 5):
        if flags2 & (1 << bit):
            aux.append(struct.unpack_from("<H", d2, pos)[0])
            pos += 2
    return AnnunciationChanged(rec, off, last, Annunciation(instance, kind_a, status, tuple(aux)))


def _single(r: HistoryRecord) -> HistoryEvent:
    t, rec, off, d = r.event_type, r.record_number, r.relative_offset_s, r.data
    if t == EventType.REFERENCE_TIME:
        return _reference_time(r)
    if t == EventType.REFERENCE_TIME_BASE_OFFSET:
        base = decode_date_time(d, 1)
        (minutes,) = struct.unpack_from("<h", d, 1 + DATE_TIME_SIZE)
        return ReferenceTimeBaseOffset(rec, off, d[0], base, minutes)
    if t == EventType.DELIVERED_BASAL_RATE_CHANGED:
        context = d[5] if d[0] & 0x01 else None
        return BasalRateChanged(
            rec, off, _amount(d, 1, "old basal rate"), _amount(d, 3, "new basal rate"), context
        )
    if t in (EventType.TBR_STARTED, EventType.TBR_CHANGED):
        flags, kind = d[0], d[1]
        value = _amount(d, 2, "temporary basal value")
        (duration,) = struct.unpack_from("<H", d, 4)
        pos = 6
        elapsed = 0
        if t == EventType.TBR_CHANGED:
            (elapsed,) = struct.unpack_from("<H", d, pos)
            pos += 2
        template = context = None
        if flags & 0x01:
            template = d[pos]
            pos += 1
        if flags & 0x02:
            context = d[pos]
        if t == EventType.TBR_STARTED:
            return TbrStarted(rec, off, kind, value, duration, template, context)
        return TbrChanged(rec, off, kind, value, duration, elapsed, template, context)
    if t == EventType.TBR_ENDED:
        flags, kind = d[0], d[1]
        last_value = _amount(d, 2, "last temporary basal value")
        (effective,) = struct.unpack_from("<H", d, 4)
        end = d[6]
        pos = 7
        template = annunciation = None
        if flags & 0x01:
            template = d[pos]
            pos += 1
        if flags & 0x02:
            annunciation = struct.unpack_from("<H", d, pos)[0]
        return TbrEnded(rec, off, kind, last_value, effective, end, template, annunciation)
    if t in (EventType.THERAPY_CONTROL_STATE_CHANGED, EventType.OPERATIONAL_STATE_CHANGED):
        return StateChanged(rec, off, t, d[0], d[1])
    if t == EventType.RESERVOIR_REMAINING_CHANGED:
        return ReservoirChanged(rec, off, _amount(d, 0, "reservoir remaining amount"))
    if t == EventType.PRIMING_STARTED:
        return PrimingStarted(rec, off, _amount(d, 0, "priming amount"))
    if t == EventType.PRIMING_DONE:
        annunciation = struct.unpack_from("<H", d, 4)[0] if d[0] & 0x01 else None
        return PrimingDone(rec, off, _amount(d, 1, "primed amount"), d[3], annunciation)
    if t == EventType.PROFILE_TEMPLATE_ACTIVATED:
        return ProfileTemplateActivated(rec, off, d[0], d[1], d[2])
    if t in _BLOCK_VALUES:
        template, block = d[0], d[1]
        (duration,) = struct.unpack_from("<H", d, 2)
        values = tuple(_amount(d, 4 + 2 * i, "time block value") for i in range(_BLOCK_VALUES[t]))
        return TimeBlockChanged(rec, off, t, template, block, duration, values)
    return OtherEvent(rec, off, t, d)


_BLOCK_VALUES: dict[int, int] = {
    EventType.BASAL_PROFILE_TIME_BLOCK_CHANGED: 1,
    EventType.ISF_PROFILE_TIME_BLOCK_CHANGED: 1,
    EventType.I2CHO_PROFILE_TIME_BLOCK_CHANGED: 1,
    EventType.TARGET_RANGE_PROFILE_TIME_BLOCK_CHANGED: 2,
}
_PART_TWO = {
    EventType.BOLUS_PROGRAMMED_1: EventType.BOLUS_PROGRAMMED_2,
    EventType.BOLUS_DELIVERED_1: EventType.BOLUS_DELIVERED_2,
    EventType.ANNUNCIATION_STATUS_CHANGED_1: EventType.ANNUNCIATION_STATUS_CHANGED_2,
    EventType.BOLUS_CALCULATED_1: EventType.BOLUS_CALCULATED_2,
}


@dataclass
class Joined:
    events: list[HistoryEvent] = field(default_factory=list)
    incomplete: HistoryRecord | None = None
    """A first part whose second part did not arrive (the read ended between them)."""


def join_events(records: list[HistoryRecord]) -> Joined:
    """History records (in record-number order) as events, multi-part events joined.

    A part 1 must be followed by its part 2 (next record number, same relative offset);
    anything else is an ``IdsFormatError`` naming the records. A part 1 at the very end is
    returned as ``incomplete`` (the next read starts again from it)."""
    out = Joined()
    pending: HistoryRecord | None = None
    seconds = set(_PART_TWO.values())
    for record in records:
        if pending is not None:
            wanted = _PART_TWO[EventType(pending.event_type)]
            if (
                record.event_type != wanted
                or record.record_number != pending.record_number + 1
                or record.relative_offset_s != pending.relative_offset_s
            ):
                raise IdsFormatError(
                    f"record {pending.record_number} (event 0x{pending.event_type:04x}) is the "
                    f"first part of an event, but record {record.record_number} (event "
                    f"0x{record.event_type:04x}) is not its second part"
                )
            if pending.event_type == EventType.BOLUS_CALCULATED_1:
                out.events.append(
                    OtherEvent(
                        pending.record_number,
                        pending.relative_offset_s,
                        pending.event_type,
                        pending.data + record.data,
                    )
                )
            else:
                out.events.append(_decoded_two_part(pending, record))
            pending = None
            continue
        if record.event_type in _PART_TWO:
            pending = record
            continue
        if record.event_type in seconds:
            raise IdsFormatError(
                f"record {record.record_number} is the second part of an event whose first "
                "part is missing"
            )
        out.events.append(_decoded_single(record))
    out.incomplete = pending
    return out


def _malformed(record: HistoryRecord, exc: Exception) -> IdsFormatError:
    return IdsFormatError(
        f"record {record.record_number} (event 0x{record.event_type:04x}, data "
        f"{record.data.hex()}) is malformed: {exc}"
    )


def _decoded_single(record: HistoryRecord) -> HistoryEvent:
    try:
        return _single(record)
    except (IndexError, struct.error, ValueError) as exc:
        raise _malformed(record, exc) from None


def _decoded_two_part(first: HistoryRecord, second: HistoryRecord) -> HistoryEvent:
    try:
        return _two_part(first, second)
    except (IndexError, struct.error, ValueError) as exc:
        raise _malformed(second, exc) from None
