"""RACP requests and record selection, without a radio: every operator, both GLS filter
types and the CGMS time offset, and every way a request can be wrong."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

import pytest

from emulator.model.cgm import CgmRecord
from emulator.model.meter import MeterReading
from emulator.protocols import cgms, gls, racp
from emulator.protocols.ble_time import date_time

T0 = datetime(2026, 1, 1, 7, 0)
# Sequence numbers 11..20 (older ones wrapped away); times not in sequence order at the
# end: the user set the meter clock back an hour before #19.
METER = [(10 + i, MeterReading(T0 + timedelta(hours=3 * i), 100 + i)) for i in range(1, 9)] + [
    (19, MeterReading(T0 + timedelta(hours=20), 140)),
    (20, MeterReading(T0 + timedelta(hours=21), 150)),
]
Code = racp.ResponseCode


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def gls_select(request: bytes) -> list[int]:
    parsed = racp.parse_request(request, gls.FILTERS)
    return [n for n, _ in racp.select(parsed, METER, gls.record_key)]


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (bytes([1, 1]), list(range(11, 21))),
        (bytes([1, 2, 1]) + u16(13), [11, 12, 13]),
        (bytes([1, 2, 1]) + u16(10), []),
        (bytes([1, 3, 1]) + u16(19), [19, 20]),
        (bytes([1, 3, 1]) + u16(21), []),
        (bytes([1, 4, 1]) + u16(12) + u16(14), [12, 13, 14]),
        (bytes([1, 4, 1]) + u16(15) + u16(15), [15]),
        (bytes([1, 5]), [11]),
        (bytes([1, 6]), [20]),
        (bytes([1, 2, 2]) + date_time(T0 + timedelta(hours=6)), [11, 12]),
        (bytes([1, 3, 2]) + date_time(T0 + timedelta(hours=21)), [17, 18, 20]),
        (
            bytes([1, 4, 2])
            + date_time(T0 + timedelta(hours=19))
            + date_time(T0 + timedelta(hours=21)),
            [17, 19, 20],
        ),
        (bytes([4, 3, 1]) + u16(18), [18, 19, 20]),
        (bytes([2, 2, 1]) + u16(12), [11, 12]),
    ],
    ids=lambda value: value.hex() if isinstance(value, bytes) else None,
)
def test_gls_selection(request_bytes: bytes, expected: list[int]) -> None:
    assert gls_select(request_bytes) == expected


def test_selection_of_nothing_is_empty_not_an_error() -> None:
    assert racp.select(racp.parse_request(bytes([1, 1]), gls.FILTERS), [], gls.record_key) == []
    assert racp.select(racp.parse_request(bytes([1, 5]), gls.FILTERS), [], gls.record_key) == []


@pytest.mark.parametrize(
    ("request_bytes", "op", "code"),
    [
        (b"", 0, Code.OP_CODE_NOT_SUPPORTED),
        (bytes([0, 1]), 0, Code.OP_CODE_NOT_SUPPORTED),
        (bytes([5, 0]), 5, Code.OP_CODE_NOT_SUPPORTED),  # a response op code, written
        (bytes([6, 0]), 6, Code.OP_CODE_NOT_SUPPORTED),
        (bytes([7, 1]), 7, Code.OP_CODE_NOT_SUPPORTED),
        (bytes([1]), 1, Code.INVALID_OPERATOR),
        (bytes([1, 0]), 1, Code.INVALID_OPERATOR),
        (bytes([4, 0]), 4, Code.INVALID_OPERATOR),
        (bytes([1, 7]), 1, Code.OPERATOR_NOT_SUPPORTED),
        (bytes([1, 0xFF]), 1, Code.OPERATOR_NOT_SUPPORTED),
        (bytes([1, 1, 1]), 1, Code.INVALID_OPERAND),
        (bytes([1, 5, 1, 0]), 1, Code.INVALID_OPERAND),
        (bytes([1, 3]), 1, Code.INVALID_OPERAND),
        (bytes([1, 3, 3]) + u16(1), 1, Code.OPERAND_NOT_SUPPORTED),
        (bytes([1, 3, 0]) + u16(1), 1, Code.OPERAND_NOT_SUPPORTED),
        (bytes([1, 3, 1]), 1, Code.INVALID_OPERAND),
        (bytes([1, 3, 1]) + u16(1) + b"\x00", 1, Code.INVALID_OPERAND),
        (bytes([1, 4, 1]) + u16(1), 1, Code.INVALID_OPERAND),
        (bytes([1, 4, 1]) + u16(9) + u16(3), 1, Code.INVALID_OPERAND),
        (bytes([1, 3, 2]) + bytes(7), 1, Code.INVALID_OPERAND),  # Date Time 0000-00-00
        (bytes([1, 3, 2]) + date_time(T0)[:6], 1, Code.INVALID_OPERAND),
        (bytes([3, 1]), 3, Code.INVALID_OPERATOR),
        (bytes([3, 0, 0]), 3, Code.INVALID_OPERAND),
        (bytes([3]), 3, Code.INVALID_OPERATOR),
    ],
    ids=lambda value: value.hex() if isinstance(value, bytes) else None,
)
def test_every_way_a_request_can_be_wrong(request_bytes: bytes, op: int, code: Code) -> None:
    with pytest.raises(racp.Rejected) as rejected:
        racp.parse_request(request_bytes, gls.FILTERS)
    assert (rejected.value.op, rejected.value.code) == (op, code)
    assert rejected.value.response() == bytes([6, 0, op, code])


def test_delete_is_refused_where_the_service_does_not_offer_it() -> None:
    ops = [racp.Op.REPORT_RECORDS, racp.Op.ABORT, racp.Op.REPORT_NUMBER]
    with pytest.raises(racp.Rejected) as rejected:
        racp.parse_request(bytes([2, 1]), gls.FILTERS, ops)
    assert rejected.value.code is Code.OP_CODE_NOT_SUPPORTED
    assert racp.parse_request(bytes([3, 0]), gls.FILTERS, ops).op is racp.Op.ABORT


def test_cgms_selects_by_time_offset_and_knows_no_other_filter() -> None:
    start = datetime(2026, 1, 1)
    records = [CgmRecord(start, 0, offset, 100, None, None) for offset in range(120, 180, 5)]

    def select(request: bytes) -> list[int]:
        parsed = racp.parse_request(request, cgms.FILTERS)
        return [r.time_offset for r in racp.select(parsed, records, cgms.record_key)]

    assert select(bytes([1, 3, 1]) + u16(165)) == [165, 170, 175]
    assert select(bytes([1, 2, 1]) + u16(124)) == [120]
    assert select(bytes([1, 4, 1]) + u16(130) + u16(140)) == [130, 135, 140]
    assert select(bytes([1, 6])) == [175]
    with pytest.raises(racp.Rejected) as rejected:
        racp.parse_request(bytes([1, 3, 2]) + date_time(start), cgms.FILTERS)
    assert rejected.value.code is Code.OPERAND_NOT_SUPPORTED
