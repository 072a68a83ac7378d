"""Insulin Delivery Service (IDS 0x183A), device side: the values an insulin pump sends and
the control point requests it accepts.

Specification: Bluetooth SIG Insulin Delivery Service 1.0.x (IDD Status Changed 0x2B20,
IDD Status 0x2B21, IDD Annunciation Status 0x2B22, IDD Features 0x2B23, IDD Status Reader
Control Point 0x2B24, IDD Command Control Point 0x2B25, IDD Command Data 0x2B26, IDD Record
Access Control Point 0x2B27, IDD History Data 0x2B28); facts checked in
../shared/specs/ble-medical-services.md; layouts and the choices the text leaves open in
docs/protocols/ids.md; byte-exact examples in tests/vectors/ble/ids/. Little-endian;
enumerations are Hamming-distance coded (0x0F, 0x33, 0x3C, 0x55, ...).

- Amounts, rates and settings are SFLOAT, with the finest exponent in -3..1 whose mantissa
  fits (``amount``).
- E2E protection (optional, a feature bit): every value the pump sends and every control
  point write ends with E2E-Counter u8 and E2E-CRC u16 (CRC-16/CCITT-FALSE over all bytes
  before it, ``emulator.protocols.e2e_crc``); History Data carries the CRC only; IDD Features
  carries its CRC first (0xFFFF without E2E protection) over the bytes after it.
- History Data: Event Type u16, Record Number u32, Relative Offset u16 seconds, Event Data.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from emulator.model import pump as m
from emulator.protocols.ble_time import date_time
from emulator.protocols.e2e_crc import crc16, strip_crc, with_crc
from emulator.protocols.ieee11073 import sfloat

ATT_MISSING_CRC = 0x80
ATT_INVALID_CRC = 0x81
ATT_CCCD_IMPROPERLY_CONFIGURED = 0xFD
ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0xFE

TIME_ZONE_UNKNOWN = -128
DST_UNKNOWN = 0xFF


def amount(value: float) -> bytes:
    """An SFLOAT with the finest exponent in -3..1 whose mantissa fits in +-2045."""
    for exponent in (-3, -2, -1, 0, 1):
        mantissa = round(value / 10.0**exponent)
        if -2045 <= mantissa <= 2045:
            return sfloat(mantissa, exponent)
    raise ValueError(f"{value} does not fit an SFLOAT")


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


# ---- E2E protection ----------------------------------------------------------------------------


class Counter:
    """The pump's E2E-Counter of one characteristic: 1 on its first value, 0 after 255."""

    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value = (self.value + 1) & 0xFF
        return self.value


def protect(payload: bytes, counter: int | None, *, corrupt: bool = False) -> bytes:
    """``payload`` + E2E-Counter + E2E-CRC; ``counter`` None: no protection at all."""
    if counter is None:
        return payload
    return with_crc(payload + bytes([counter]), corrupt=corrupt)


def unprotect(value: bytes, e2e: bool) -> bytes:
    """The payload of a written value (its counter is not checked, its CRC is): raises
    ``CrcError`` when the CRC is missing or wrong."""
    if not e2e:
        return value
    return strip_crc(value, min_payload=2)[:-1]


# ---- enumerations ------------------------------------------------------------------------------

THERAPY = {m.TherapyState.RUN: 0x55, m.TherapyState.STOP: 0x33, m.TherapyState.PAUSE: 0x3C}
OPERATIONAL = {
    m.OperationalState.STANDBY: 0x3C,
    m.OperationalState.PRIMING: 0x5A,
    m.OperationalState.WAITING: 0x66,
    m.OperationalState.READY: 0x96,
}
BOLUS_TYPE = {m.BolusKind.FAST: 0x33, m.BolusKind.EXTENDED: 0x3C, m.BolusKind.MULTIWAVE: 0x55}
BOLUS_END = {m.BolusEnd.DELIVERED: 0x33, m.BolusEnd.CANCELLED: 0x3C}
TBR_TYPE = {m.TbrKind.ABSOLUTE: 0x33, m.TbrKind.RELATIVE: 0x3C}
TBR_END = {m.TbrEnd.DURATION_OVER: 0x33, m.TbrEnd.CANCELLED: 0x3C}
RECORDING_REASON = {m.ReferenceReason.SET_DATE_TIME: 0x33, m.ReferenceReason.PERIODIC: 0x3C}
ANNUNCIATION_TYPE = {
    m.Annunciation.OCCLUSION: 0x003C,
    m.Annunciation.RESERVOIR_EMPTY: 0x005A,
    m.Annunciation.RESERVOIR_LOW: 0x0066,
    m.Annunciation.INFUSION_SET_DETACHED: 0x0099,
    m.Annunciation.BATTERY_EMPTY: 0x00AA,
    m.Annunciation.BATTERY_LOW: 0x00C3,
    m.Annunciation.TBR_OVER: 0x0330,
}
ANNUNCIATION_STATUS = {m.AnnunciationState.PENDING: 0x33, m.AnnunciationState.CONFIRMED: 0x55}
PRIME_END = {m.PrimeEnd.AMOUNT_REACHED: 0x33, m.PrimeEnd.STOPPED: 0x3C}
ACTIVATION_MANUAL = 0x33
TEMPLATE_BASAL, TEMPLATE_ISF, TEMPLATE_ICR, TEMPLATE_TARGET = 0x33, 0x5A, 0x66, 0x96


class EventType(enum.IntEnum):
    REFERENCE_TIME = 0x000F
    BOLUS_PROGRAMMED_1 = 0x005A
    BOLUS_PROGRAMMED_2 = 0x0066
    BOLUS_DELIVERED_1 = 0x0069
    BOLUS_DELIVERED_2 = 0x0096
    DELIVERED_BASAL_RATE_CHANGED = 0x0099
    TBR_STARTED = 0x00A5
    TBR_ENDED = 0x00AA
    PROFILE_TEMPLATE_ACTIVATED = 0x00CC
    TOTAL_DAILY_INSULIN = 0x00FF
    THERAPY_CONTROL_STATE_CHANGED = 0x0303
    OPERATIONAL_STATE_CHANGED = 0x030C
    RESERVOIR_REMAINING_CHANGED = 0x0330
    ANNUNCIATION_CHANGED_1 = 0x033F
    ANNUNCIATION_CHANGED_2 = 0x0356
    PRIMING_STARTED = 0x0395
    PRIMING_DONE = 0x039A


class Feature(enum.IntFlag):
    E2E_PROTECTION = 1 << 0
    BASAL_RATE = 1 << 1
    TBR_ABSOLUTE = 1 << 2
    TBR_RELATIVE = 1 << 3
    TBR_TEMPLATE = 1 << 4
    FAST_BOLUS = 1 << 5
    EXTENDED_BOLUS = 1 << 6
    MULTIWAVE_BOLUS = 1 << 7
    BOLUS_DELAY_TIME = 1 << 8
    BOLUS_TEMPLATE = 1 << 9
    BOLUS_ACTIVATION_TYPE = 1 << 10
    MULTIPLE_BOND = 1 << 11
    ISF_PROFILE_TEMPLATE = 1 << 12
    I2CHO_RATIO_PROFILE_TEMPLATE = 1 << 13
    TARGET_GLUCOSE_RANGE_PROFILE_TEMPLATE = 1 << 14


PUMP_FEATURES = (
    Feature.BASAL_RATE
    | Feature.TBR_ABSOLUTE
    | Feature.TBR_RELATIVE
    | Feature.FAST_BOLUS
    | Feature.EXTENDED_BOLUS
    | Feature.MULTIWAVE_BOLUS
    | Feature.BOLUS_ACTIVATION_TYPE
    | Feature.MULTIPLE_BOND
    | Feature.ISF_PROFILE_TEMPLATE
    | Feature.I2CHO_RATIO_PROFILE_TEMPLATE
    | Feature.TARGET_GLUCOSE_RANGE_PROFILE_TEMPLATE
)


class StatusChanged(enum.IntFlag):
    THERAPY_CONTROL_STATE = 1 << 0
    OPERATIONAL_STATE = 1 << 1
    RESERVOIR_STATUS = 1 << 2
    ANNUNCIATION_STATUS = 1 << 3
    TOTAL_DAILY_INSULIN_STATUS = 1 << 4
    ACTIVE_BASAL_RATE_STATUS = 1 << 5
    ACTIVE_BOLUS_STATUS = 1 << 6
    HISTORY_EVENT_RECORDED = 1 << 7


# ---- values ------------------------------------------------------------------------------------


def encode_features(*, e2e: bool, concentration: float = 100.0, counter: int = 0) -> bytes:
    """IDD Features: E2E-CRC, E2E-Counter, Insulin Concentration, Flags u24."""
    flags = int(PUMP_FEATURES | (Feature.E2E_PROTECTION if e2e else 0))
    rest = bytes([counter]) + amount(concentration) + struct.pack("<I", flags)[:3]
    return u16(crc16(rest) if e2e else 0xFFFF) + rest


def encode_status(
    therapy: m.TherapyState,
    operational: m.OperationalState,
    reservoir: float,
    attached: bool,
    counter: int | None = None,
) -> bytes:
    value = bytes([THERAPY[therapy], OPERATIONAL[operational]]) + amount(reservoir)
    return protect(value + bytes([1 if attached else 0]), counter)


def encode_status_changed(flags: int, counter: int | None = None) -> bytes:
    return protect(u16(flags), counter)


def encode_annunciation_status(
    annunciation: tuple[int, m.Annunciation] | None, counter: int | None = None
) -> bytes:
    if annunciation is None:
        return protect(b"\x00", counter)
    number, kind = annunciation
    value = b"\x01" + u16(number) + u16(ANNUNCIATION_TYPE[kind]) + bytes([0x33])
    return protect(value, counter)


# ---- history -----------------------------------------------------------------------------------


def _event_data(payload: m.EventPayload) -> tuple[EventType, bytes]:
    match payload:
        case m.ReferenceTime(reason, display):
            data = bytes([RECORDING_REASON[reason]]) + date_time(display)
            return EventType.REFERENCE_TIME, data + struct.pack(
                "<bB", TIME_ZONE_UNKNOWN, DST_UNKNOWN
            )
        case m.BolusProgrammed1(bolus_id, kind, fast, extended, minutes):
            data = u16(bolus_id) + bytes([BOLUS_TYPE[kind]]) + amount(fast) + amount(extended)
            return EventType.BOLUS_PROGRAMMED_1, data + u16(minutes)
        case m.BolusProgrammed2(meal):
            flags = 0x04 | (0x10 if meal else 0x08)
            return EventType.BOLUS_PROGRAMMED_2, bytes([flags, ACTIVATION_MANUAL])
        case m.BolusDelivered1(bolus_id, kind, fast, extended, minutes):
            data = u16(bolus_id) + bytes([BOLUS_TYPE[kind]]) + amount(fast) + amount(extended)
            return EventType.BOLUS_DELIVERED_1, data + u16(minutes)
        case m.BolusDelivered2(offset, end):
            return EventType.BOLUS_DELIVERED_2, b"\x02" + u32(offset) + bytes([BOLUS_END[end]])
        case m.BasalRateChanged(old, new):
            return EventType.DELIVERED_BASAL_RATE_CHANGED, b"\x00" + amount(old) + amount(new)
        case m.TbrStarted(kind, value, minutes):
            data = bytes([0x00, TBR_TYPE[kind]]) + amount(value) + u16(minutes)
            return EventType.TBR_STARTED, data
        case m.TbrEnded(kind, value, minutes, end):
            data = bytes([0x00, TBR_TYPE[kind]]) + amount(value) + u16(minutes)
            return EventType.TBR_ENDED, data + bytes([TBR_END[end]])
        case m.TotalDailyInsulin(day, bolus, basal, changed):
            data = bytes([0x01 if changed else 0x00]) + amount(bolus) + amount(basal)
            return EventType.TOTAL_DAILY_INSULIN, data + _date(day)
        case m.TherapyStateChanged(old, new):
            return EventType.THERAPY_CONTROL_STATE_CHANGED, bytes([THERAPY[old], THERAPY[new]])
        case m.OperationalStateChanged(old, new):
            data = bytes([OPERATIONAL[old], OPERATIONAL[new]])
            return EventType.OPERATIONAL_STATE_CHANGED, data
        case m.ReservoirChanged(remaining):
            return EventType.RESERVOIR_REMAINING_CHANGED, amount(remaining)
        case m.AnnunciationChanged1(number, kind, state):
            data = b"\x01" + u16(number) + u16(ANNUNCIATION_TYPE[kind])
            return EventType.ANNUNCIATION_CHANGED_1, data + bytes([ANNUNCIATION_STATUS[state]])
        case m.AnnunciationChanged2():
            return EventType.ANNUNCIATION_CHANGED_2, b"\x00"
        case m.PrimingStarted(value):
            return EventType.PRIMING_STARTED, amount(value)
        case m.PrimingDone(delivered, end):
            return EventType.PRIMING_DONE, b"\x00" + amount(delivered) + bytes([PRIME_END[end]])
        case m.ProfileActivated(old, new):
            return EventType.PROFILE_TEMPLATE_ACTIVATED, bytes([TEMPLATE_BASAL, old, new])
    raise TypeError(f"no IDS history event for {payload!r}")


def _date(day: date) -> bytes:
    return u16(day.year) + bytes([day.month, day.day])


def encode_event(event: m.HistoryEvent, *, e2e: bool, corrupt: bool = False) -> bytes:
    """One IDD History Data value (with its CRC when ``e2e``; a wrong one if ``corrupt``)."""
    kind, data = _event_data(event.payload)
    value = u16(kind) + u32(event.record_number) + u16(event.relative_offset) + data
    return with_crc(value, corrupt=corrupt) if e2e else value


# ---- IDD Record Access Control Point -------------------------------------------------------------


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


class RacpFilter(enum.IntEnum):
    RECORD_NUMBER = 0x0F
    REFERENCE_TIME_EVENTS = 0x33
    OTHER_EVENTS = 0x3C


class RacpCode(enum.IntEnum):
    SUCCESS = 0xF0
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09
    PROCEDURE_NOT_APPLICABLE = 0x0A


@dataclass(frozen=True)
class RacpRequest:
    op: RacpOp
    operator: RacpOperator
    filter: RacpFilter = RacpFilter.RECORD_NUMBER
    low: int | None = None
    high: int | None = None


class RacpRejected(Exception):
    def __init__(self, op: int, code: RacpCode) -> None:
        super().__init__(f"IDD RACP op code 0x{op:02X}: {code.name.lower().replace('_', ' ')}")
        self.op = op
        self.code = code


SUPPORTED_RACP_OPS = (RacpOp.REPORT_RECORDS, RacpOp.ABORT, RacpOp.REPORT_NUMBER)


def parse_racp(data: bytes) -> RacpRequest:
    """Validate one IDD RACP request (without E2E bytes); ``RacpRejected`` carries the
    answer. Order: op code, operator, filter type, operand length."""
    if not data:
        raise RacpRejected(0, RacpCode.OP_CODE_NOT_SUPPORTED)
    op_code = data[0]
    if op_code not in [int(op) for op in SUPPORTED_RACP_OPS]:
        raise RacpRejected(op_code, RacpCode.OP_CODE_NOT_SUPPORTED)
    op = RacpOp(op_code)
    if len(data) < 2:
        raise RacpRejected(op, RacpCode.INVALID_OPERATOR)
    operator_code, rest = data[1], data[2:]
    if op is RacpOp.ABORT:
        if operator_code != RacpOperator.NULL:
            raise RacpRejected(op, RacpCode.INVALID_OPERATOR)
        if rest:
            raise RacpRejected(op, RacpCode.INVALID_OPERAND)
        return RacpRequest(op, RacpOperator.NULL)
    if operator_code == RacpOperator.NULL:
        raise RacpRejected(op, RacpCode.INVALID_OPERATOR)
    if operator_code not in [int(o) for o in RacpOperator]:
        raise RacpRejected(op, RacpCode.OPERATOR_NOT_SUPPORTED)
    operator = RacpOperator(operator_code)
    simple = operator in (RacpOperator.ALL, RacpOperator.FIRST, RacpOperator.LAST)
    if not rest:
        if simple:
            return RacpRequest(op, operator)
        raise RacpRejected(op, RacpCode.INVALID_OPERAND)
    if rest[0] not in [int(f) for f in RacpFilter]:
        raise RacpRejected(op, RacpCode.OPERAND_NOT_SUPPORTED)
    kind, operands = RacpFilter(rest[0]), rest[1:]
    if simple:
        if operands:
            raise RacpRejected(op, RacpCode.INVALID_OPERAND)
        return RacpRequest(op, operator, kind)
    count = 2 if operator is RacpOperator.WITHIN_RANGE else 1
    if len(operands) != 4 * count:
        raise RacpRejected(op, RacpCode.INVALID_OPERAND)
    numbers = struct.unpack(f"<{count}I", operands)
    if operator is RacpOperator.LESS_OR_EQUAL:
        return RacpRequest(op, operator, kind, high=numbers[0])
    if operator is RacpOperator.GREATER_OR_EQUAL:
        return RacpRequest(op, operator, kind, low=numbers[0])
    if numbers[0] > numbers[1]:
        raise RacpRejected(op, RacpCode.INVALID_OPERAND)
    return RacpRequest(op, operator, kind, low=numbers[0], high=numbers[1])


def select_events(request: RacpRequest, events: Sequence[m.HistoryEvent]) -> list[m.HistoryEvent]:
    """The events (oldest first) a request designates."""
    chosen = list(events)
    if request.filter is RacpFilter.REFERENCE_TIME_EVENTS:
        chosen = [e for e in chosen if e.is_reference_time]
    elif request.filter is RacpFilter.OTHER_EVENTS:
        chosen = [e for e in chosen if not e.is_reference_time]
    if request.operator is RacpOperator.FIRST:
        return chosen[:1]
    if request.operator is RacpOperator.LAST:
        return chosen[-1:]
    low, high = request.low, request.high
    return [
        e
        for e in chosen
        if (low is None or e.record_number >= low) and (high is None or e.record_number <= high)
    ]


def racp_response(request_op: int, code: RacpCode, counter: int | None = None) -> bytes:
    return protect(bytes([RacpOp.RESPONSE_CODE, RacpOperator.NULL, request_op, code]), counter)


def racp_number(count: int, counter: int | None = None) -> bytes:
    return protect(bytes([RacpOp.NUMBER_RESPONSE, RacpOperator.NULL]) + u32(count), counter)


# ---- Command Control Point and Command Data ------------------------------------------------------


class CcpOp(enum.IntEnum):
    RESPONSE_CODE = 0x0F55
    READ_BASAL_TEMPLATE = 0x0FAA
    READ_BASAL_TEMPLATE_RESPONSE = 0x0FC3
    GET_ACTIVATED_TEMPLATES = 0x1248
    GET_ACTIVATED_TEMPLATES_RESPONSE = 0x1274
    READ_ISF_TEMPLATE = 0x12B8
    READ_ISF_TEMPLATE_RESPONSE = 0x12D1
    READ_I2CHO_TEMPLATE = 0x12ED
    READ_I2CHO_TEMPLATE_RESPONSE = 0x1414
    READ_TARGET_TEMPLATE = 0x1428
    READ_TARGET_TEMPLATE_RESPONSE = 0x1441


class CcpCode(enum.IntEnum):
    SUCCESS = 0x0F
    OP_CODE_NOT_SUPPORTED = 0x70
    INVALID_OPERAND = 0x71
    PROCEDURE_NOT_COMPLETED = 0x72
    PARAMETER_OUT_OF_RANGE = 0x73
    PROCEDURE_NOT_APPLICABLE = 0x74


def ccp_response(request_op: int, code: CcpCode, counter: int | None = None) -> bytes:
    return protect(u16(CcpOp.RESPONSE_CODE) + u16(request_op) + bytes([code]), counter)


def template_responses(response_op: CcpOp, profile: m.ProfileTemplate) -> list[bytes]:
    """The Command Data values answering a template read: groups of three time blocks (two
    for target ranges, whose blocks carry two values), numbered from 1."""
    per = 2 if response_op is CcpOp.READ_TARGET_TEMPLATE_RESPONSE else 3
    blocks = profile.blocks
    out = []
    for first in range(0, len(blocks), per):
        group = blocks[first : first + per]
        flags = (0x01 if len(group) > 1 else 0) | (0x02 if len(group) > 2 else 0)
        value = u16(response_op) + bytes([flags, profile.number, first + 1])
        for block in group:
            value += u16(block.duration_minutes) + b"".join(amount(v) for v in block.values)
        out.append(value)
    return out


def activated_templates(basal: int, others: int = 1) -> bytes:
    pairs = [(TEMPLATE_BASAL, basal), (TEMPLATE_ISF, others), (TEMPLATE_ICR, others)]
    pairs.append((TEMPLATE_TARGET, others))
    body = bytes([len(pairs)]) + b"".join(bytes(pair) for pair in pairs)
    return u16(CcpOp.GET_ACTIVATED_TEMPLATES_RESPONSE) + body


# ---- Status Reader Control Point -----------------------------------------------------------------


class SrcpOp(enum.IntEnum):
    RESPONSE_CODE = 0x0303
    RESET_STATUS = 0x030C
    GET_ACTIVE_BOLUS_IDS = 0x0330
    GET_ACTIVE_BOLUS_IDS_RESPONSE = 0x033F
    GET_ACTIVE_BASAL_RATE_DELIVERY = 0x0365
    GET_ACTIVE_BASAL_RATE_DELIVERY_RESPONSE = 0x036A
    GET_TOTAL_DAILY_INSULIN_STATUS = 0x0395
    GET_TOTAL_DAILY_INSULIN_STATUS_RESPONSE = 0x039A


def srcp_response(request_op: int, code: CcpCode, counter: int | None = None) -> bytes:
    return protect(u16(SrcpOp.RESPONSE_CODE) + u16(request_op) + bytes([code]), counter)


def active_basal_delivery(template_number: int, rate: float, counter: int | None = None) -> bytes:
    value = u16(SrcpOp.GET_ACTIVE_BASAL_RATE_DELIVERY_RESPONSE) + bytes([0x00, template_number])
    return protect(value + amount(rate), counter)


def total_daily_insulin(bolus: float, basal: float, counter: int | None = None) -> bytes:
    value = u16(SrcpOp.GET_TOTAL_DAILY_INSULIN_STATUS_RESPONSE) + amount(bolus) + amount(basal)
    return protect(value + amount(round(bolus + basal, 3)), counter)


def active_bolus_ids(ids: Sequence[int], counter: int | None = None) -> bytes:
    value = u16(SrcpOp.GET_ACTIVE_BOLUS_IDS_RESPONSE) + bytes([len(ids)])
    return protect(value + b"".join(u16(i) for i in ids), counter)
