"""Record Access Control Point (RACP 0x2A52): the request parser and record selector.

Specification: the RACP characteristic as used by the Glucose Service and the Continuous
Glucose Monitoring Service (shared by both; each service defines its own filter types).

A request is ``op code, operator[, filter type, operand(s)]``:

- op codes: 1 report stored records, 2 delete stored records, 3 abort operation, 4 report
  number of stored records; the server answers with 5 number of stored records response
  (``05 00 <u16>``) or 6 response code (``06 00 <request op code> <response code>``);
- operators: 0 null, 1 all records, 2 less than or equal to, 3 greater than or equal to,
  4 within range of (inclusive), 5 first record (the oldest), 6 last record (the newest);
- ``<=``/``>=`` carry a filter type and one operand, a range a filter type and two.

Validation, in this order (each answered with a response code, never an ATT error): an op
code other than 1..4 (or one the service does not offer, such as delete) -> 2 op code not
supported; abort with an operator other than null -> 3 invalid operator, abort with more
bytes -> 5 invalid operand; a report/delete/number request with the null operator or none
-> 3 invalid operator; an operator above 6 -> 4 operator not supported; all/first/last
followed by anything -> 5 invalid operand; ``<=``/``>=``/range without a filter type -> 5
invalid operand; a filter type the service does not know -> 9 operand not supported; an
operand of the wrong length or value, or a range whose low end is above its high end -> 5
invalid operand. An empty write is answered as op code 0: op code not supported.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")


class Op(enum.IntEnum):
    REPORT_RECORDS = 1
    DELETE_RECORDS = 2
    ABORT = 3
    REPORT_NUMBER = 4
    NUMBER_RESPONSE = 5
    RESPONSE_CODE = 6


class Operator(enum.IntEnum):
    NULL = 0
    ALL = 1
    LESS_OR_EQUAL = 2
    GREATER_OR_EQUAL = 3
    WITHIN_RANGE = 4
    FIRST = 5
    LAST = 6


class ResponseCode(enum.IntEnum):
    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9


REQUEST_OPS = (Op.REPORT_RECORDS, Op.DELETE_RECORDS, Op.ABORT, Op.REPORT_NUMBER)


@dataclass(frozen=True)
class FilterType:
    """A filter type a service supports: its code, operand size and operand decoder.

    ``decode`` turns one operand's bytes into a comparable key and raises ValueError for a
    value that cannot be a key (for example a Date Time with month 13)."""

    code: int
    name: str
    size: int
    decode: Callable[[bytes], Any]


@dataclass(frozen=True)
class Request:
    """A valid request. ``low``/``high`` are inclusive bounds (None: unbounded)."""

    op: Op
    operator: Operator
    filter_type: int | None = None
    low: Any = None
    high: Any = None


class Rejected(Exception):
    """A request answered with a response code other than success."""

    def __init__(self, op: int, code: ResponseCode) -> None:
        super().__init__(f"RACP op code {op}: {code.name.lower().replace('_', ' ')}")
        self.op = op
        self.code = code

    def response(self) -> bytes:
        return response_code(self.op, self.code)


def parse_request(
    data: bytes,
    filters: Mapping[int, FilterType],
    ops: Collection[Op] = REQUEST_OPS,
) -> Request:
    """Parse and validate one RACP write; raises ``Rejected`` with the response to send."""
    if not data:
        raise Rejected(0, ResponseCode.OP_CODE_NOT_SUPPORTED)
    op_code = data[0]
    if op_code not in REQUEST_OPS or op_code not in ops:
        raise Rejected(op_code, ResponseCode.OP_CODE_NOT_SUPPORTED)
    op = Op(op_code)
    if len(data) < 2:
        raise Rejected(op, ResponseCode.INVALID_OPERATOR)
    operator_code, rest = data[1], data[2:]

    if op is Op.ABORT:
        if operator_code != Operator.NULL:
            raise Rejected(op, ResponseCode.INVALID_OPERATOR)
        if rest:
            raise Rejected(op, ResponseCode.INVALID_OPERAND)
        return Request(op, Operator.NULL)

    if operator_code == Operator.NULL:
        raise Rejected(op, ResponseCode.INVALID_OPERATOR)
    if operator_code > max(Operator):
        raise Rejected(op, ResponseCode.OPERATOR_NOT_SUPPORTED)
    operator = Operator(operator_code)
    if operator in (Operator.ALL, Operator.FIRST, Operator.LAST):
        if rest:
            raise Rejected(op, ResponseCode.INVALID_OPERAND)
        return Request(op, operator)

    if not rest:
        raise Rejected(op, ResponseCode.INVALID_OPERAND)
    filter_code, operands = rest[0], rest[1:]
    filter_type = filters.get(filter_code)
    if filter_type is None:
        raise Rejected(op, ResponseCode.OPERAND_NOT_SUPPORTED)
    count = 2 if operator is Operator.WITHIN_RANGE else 1
    if len(operands) != count * filter_type.size:
        raise Rejected(op, ResponseCode.INVALID_OPERAND)
    try:
        keys = [
            filter_type.decode(operands[i * filter_type.size : (i + 1) * filter_type.size])
            for i in range(count)
        ]
    except ValueError:
        raise Rejected(op, ResponseCode.INVALID_OPERAND) from None
    if operator is Operator.LESS_OR_EQUAL:
        return Request(op, operator, filter_code, high=keys[0])
    if operator is Operator.GREATER_OR_EQUAL:
        return Request(op, operator, filter_code, low=keys[0])
    low, high = keys
    if low > high:
        raise Rejected(op, ResponseCode.INVALID_OPERAND)
    return Request(op, operator, filter_code, low=low, high=high)


def select(request: Request, records: Sequence[R], key: Callable[[int, R], Any]) -> list[R]:
    """The records (in storage order, oldest first) a request designates.

    ``key(filter_type, record)`` gives a record's key under a filter type."""
    operator = request.operator
    if operator is Operator.ALL:
        return list(records)
    if operator is Operator.FIRST:
        return list(records[:1])
    if operator is Operator.LAST:
        return list(records[-1:])
    assert request.filter_type is not None
    chosen = []
    for record in records:
        value = key(request.filter_type, record)
        if request.low is not None and value < request.low:
            continue
        if request.high is not None and value > request.high:
            continue
        chosen.append(record)
    return chosen


def response_code(op: int, code: ResponseCode) -> bytes:
    """``06 00 <request op code> <response code>``."""
    return bytes([Op.RESPONSE_CODE, Operator.NULL, op, code])


def number_response(count: int) -> bytes:
    """``05 00 <count u16>``."""
    return bytes([Op.NUMBER_RESPONSE, Operator.NULL]) + struct.pack("<H", count)


def u16_operand(data: bytes) -> int:
    """A little-endian u16 operand (sequence numbers, time offsets)."""
    (value,) = struct.unpack("<H", data)
    return int(value)
