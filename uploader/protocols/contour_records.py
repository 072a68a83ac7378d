"""ASTM E1394 records as Contour meters send them: parsing, host side.

Specification: ASTM E1394-97 record layouts with the Contour field usage in
../shared/specs/contour-usb.md. The header declares the delimiters (field, repeat,
component, escape) in its second field; every later record is split with them.

- Header ``H``: product code, firmware versions, serial and SKU in field 5; the meter's
  configuration in field 6 (``U=`` unit: 0 mg/dL, 1 mmol/L; ``V=`` measuring range: low
  bound in 2 digits, high bound in 3); the number of results in field 7; the meter's clock
  (``YYYYMMDDHHMM``) in field 14.
- Result ``R``: sequence number, test id (``^^^Glucose``), value, ``unit^method``, markers
  joined by ``/`` (``<`` LO, ``>`` HI, ``C`` control solution, ``B``/``A`` before/after
  meal, ``D``, ``I``, ``S``, ``X``, ``Z``), and the time ``YYYYMMDDHHMM``.
- Patient ``P``, terminator ``L``; other record types are returned as ``OtherRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from uploader.errors import ProtocolError


class RecordError(ProtocolError):
    """A record could not be understood."""


@dataclass(frozen=True)
class Delimiters:
    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"


@dataclass(frozen=True)
class ContourHeader:
    product_code: str
    firmware_version: str
    other_versions: tuple[str, ...]
    serial_number: str
    sku: str
    config: dict[str, str]
    unit: str  # "mg/dL" or "mmol/L"
    low_limit_mg_dl: int | None
    high_limit_mg_dl: int | None
    result_count: int | None
    device_time: datetime | None
    delimiters: Delimiters = field(default_factory=Delimiters)


@dataclass(frozen=True)
class ContourResult:
    sequence: int
    test: str  # "Glucose"; some meters also send "Insulin" and "Carb"
    value_text: str
    unit: str
    method: str  # P plasma, B blood, D ...
    markers: frozenset[str]
    device_time: datetime


@dataclass(frozen=True)
class OtherRecord:
    kind: str  # "P", "L", or a type this driver does not use
    text: str


def parse_timestamp(text: str, what: str) -> datetime:
    try:
        if len(text) != 12 or not _digits(text):
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d%H%M")
    except ValueError:
        raise RecordError(
            f"The meter sent an unreadable {what} {text!r} (expected YYYYMMDDHHMM)."
        ) from None


def _digits(text: str, most: int = 12) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts ``'²'``, which ``int`` refuses), and
    few enough that ``int`` stays within its digit limit."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def _config(text: str, component: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(component) if "=" in item)
    return {key: value for key, value in pairs}


def parse_header(text: str) -> ContourHeader:
    """Parse an ``H`` record (with or without its trailing CR)."""
    text = text.rstrip("\r")
    if len(text) < 6 or text[0] != "H":
        raise RecordError(f"Expected a header record, got {text[:20]!r}.")
    delims = Delimiters(field=text[1], repeat=text[2], component=text[3], escape=text[4])
    fields = text.split(delims.field)
    if len(fields) < 7:
        raise RecordError(f"The meter's header has {len(fields)} fields; at least 7 were expected.")
    sender = fields[4].split(delims.component)
    if len(sender) < 3:
        raise RecordError(f"The meter's header does not name its serial number: {fields[4]!r}.")
    versions = sender[1].split(delims.repeat)
    config = _config(fields[5], delims.component)
    unit = {"0": "mg/dL", "1": "mmol/L"}.get(config.get("U", "0"))
    if unit is None:
        raise RecordError(f"The meter reports an unknown glucose unit code U={config['U']!r}.")
    low = high = None
    limits = config.get("V", "")
    if len(limits) == 5 and _digits(limits):
        low, high = int(limits[:2]), int(limits[2:])
    count = int(fields[6]) if _digits(fields[6]) else None
    clock = parse_timestamp(fields[13], "clock") if len(fields) > 13 and fields[13] else None
    return ContourHeader(
        product_code=sender[0],
        firmware_version=versions[0],
        other_versions=tuple(versions[1:]),
        serial_number=sender[2],
        sku=sender[3] if len(sender) > 3 else "",
        config=config,
        unit=unit,
        low_limit_mg_dl=low,
        high_limit_mg_dl=high,
        result_count=count,
        device_time=clock,
        delimiters=delims,
    )


def parse_record(text: str, delims: Delimiters) -> ContourResult | OtherRecord:
    """Parse any record after the header, split with the header's delimiters."""
    text = text.rstrip("\r")
    if not text:
        raise RecordError("The meter sent an empty record.")
    if text[0] != "R":
        return OtherRecord(text[0], text)
    fields = text.split(delims.field)
    if len(fields) < 9:
        raise RecordError(f"A result record has {len(fields)} fields; 9 were expected: {text!r}.")
    if not _digits(fields[1]):
        raise RecordError(f"A result record has no sequence number: {text!r}.")
    test = fields[2].split(delims.component)[-1]
    unit, _, method = fields[4].partition(delims.component)
    markers = frozenset(m for m in fields[6].split("/") if m)
    return ContourResult(
        sequence=int(fields[1]),
        test=test,
        value_text=fields[3],
        unit=unit,
        method=method,
        markers=markers,
        device_time=parse_timestamp(fields[8], f"time in result {fields[1]}"),
    )
