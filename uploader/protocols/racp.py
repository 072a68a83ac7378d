"""Record Access Control Point (RACP, 0x2A52), collector side, as GLS and CGMS use it.

A request is op code, operator, and for the operators that filter, a filter type and
operand(s): sequence number (uint16, GLS), user-facing time (Date Time, GLS) or time offset
(uint16 minutes, CGMS). The server answers a report with the records, then a response-code
indication ``06 00 <request op code> <response>``, or a count ``05 00 <uint16>``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from datetime import datetime

from uploader.protocols.ble_time import encode_date_time


class OpCode(enum.IntEnum):
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


FILTER_SEQUENCE_NUMBER = 1
"""GLS: filter on the record's sequence number (uint16)."""
FILTER_USER_FACING_TIME = 2
"""GLS: filter on base time + time offset (Date Time)."""
FILTER_TIME_OFFSET = 1
"""CGMS: filter on the minutes since session start (uint16)."""


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


def request(
    op: OpCode,
    operator: Operator = Operator.ALL,
    filter_type: int | None = None,
    *operands: int | datetime,
) -> bytes:
    """Encode a request; integer operands are uint16, datetimes Date Time."""
    out = bytes([op, operator])
    if filter_type is not None:
        out += bytes([filter_type])
        for operand in operands:
            out += (
                encode_date_time(operand)
                if isinstance(operand, datetime)
                else struct.pack("<H", operand)
            )
    return out


@dataclass(frozen=True)
class Response:
    """A RACP indication: a count, or the response code to a request."""

    number_of_records: int | None = None
    request_op: int | None = None
    code: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.code == ResponseCode.SUCCESS

    def describe(self) -> str:
        if self.code is None:
            return f"{self.number_of_records} records"
        try:
            return ResponseCode(self.code).name.lower().replace("_", " ")
        except ValueError:
            return f"response code {self.code}"


def parse_response(value: bytes) -> Response:
    """Parse a RACP indication; ``ValueError`` for anything else."""
    if len(value) >= 4 and value[0] == OpCode.NUMBER_RESPONSE and value[1] == Operator.NULL:
        return Response(number_of_records=struct.unpack_from("<H", value, 2)[0])
    if len(value) >= 4 and value[0] == OpCode.RESPONSE_CODE and value[1] == Operator.NULL:
        return Response(request_op=value[2], code=value[3])
    raise ValueError(f"not a RACP response: {value.hex()}")
