"""Reusable field types for the datum and data set models, with the spec's rules.

Each type is a pydantic ``Annotated`` type whose failures carry our error codes and
messages. ``Opt[T]`` marks an optional field: it may be left out, but an explicit ``null``
is refused (the Tidepool models have no nullable fields). Sources:
reference/common/models/*.yaml and reference/data/models/{timezoneoffset,clockdriftoffset,
conversionoffset,deviceid}.v1.yaml.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, StrictInt, StrictStr

from mock_cloud.problems import custom_error
from mock_cloud.timestamps import check_device_time, parse_rfc3339

T = TypeVar("T")


def _reject_null(value: Any) -> Any:
    if value is None:
        raise custom_error("value-null", "must not be null; leave the field out instead")
    return value


Opt = Annotated[T | None, BeforeValidator(_reject_null)]
"""An optional field: may be absent (then None), but an explicit null is refused."""


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise custom_error("type-not-number", "must be a number")
    return value


Number = Annotated[int | float, PlainValidator(_number, json_schema_input_type=float)]
"""A JSON number (integer or not), never a boolean or a numeric string."""


def in_range(low: float, high: float) -> AfterValidator:
    """A validator requiring ``low <= value <= high``, failing with value-out-of-range."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise custom_error("value-out-of-range", f"must be between {low:g} and {high:g}")
        return value

    return AfterValidator(check)


def matching(pattern: str, description: str) -> AfterValidator:
    """A validator requiring a full match of ``pattern``; failures say ``description``."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise custom_error("value-not-valid", f"must be {description}")
        return value

    return AfterValidator(check)


def _checked(check: Callable[[str], object]) -> AfterValidator:
    def run(value: str) -> str:
        try:
            check(value)
        except ValueError as error:
            raise custom_error("value-not-valid", str(error), echo_input=False) from None
        return value

    return AfterValidator(run)


def _check_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone name such as Europe/London or America/New_York"
        ) from None


DateTime = Annotated[StrictStr, _checked(parse_rfc3339)]
"""RFC 3339 date-time with zone offset or Z (datetime.v1.yaml)."""

DeviceTime = Annotated[StrictStr, _checked(check_device_time)]
"""Local date-time without zone, YYYY-MM-DDTHH:MM:SS (datetimenotz.v1.yaml)."""

TimezoneName = Annotated[StrictStr, _checked(_check_zone)]
"""IANA time zone name (timezonename.v1.yaml)."""

NonEmptyString = Annotated[StrictStr, Field(min_length=1)]

DeviceId = NonEmptyString
"""Device id, globally unique to the device and repeatable (deviceid.v1.yaml)."""

TimezoneOffset = Annotated[StrictInt, Field(ge=-10080, le=10080)]
"""Minutes from UTC (timezoneoffset.v1.yaml)."""

ClockDriftOffset = Annotated[StrictInt, Field(ge=-86_400_000, le=86_400_000)]
"""Milliseconds (clockdriftoffset.v1.yaml)."""

ConversionOffset = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
"""Milliseconds, int64 (conversionoffset.v1.yaml)."""

ReverseDomainName = Annotated[
    StrictStr,
    matching(
        r"[a-zA-Z0-9](|[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])(\.[a-zA-Z0-9](|[a-zA-Z0-9-]{0,61}[a-zA-Z0-9]))+",
        "a reverse domain name such as org.example.uploader",
    ),
]
"""reversedomainname.v1.yaml."""

SemanticVersion = Annotated[
    StrictStr,
    matching(
        r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
        r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
        r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
        "a semantic version such as 1.2.3",
    ),
]
"""semanticversion.v1.yaml."""

JsonObject = dict[str, Any]
"""Any JSON object."""
