"""Fields common to every Tidepool datum (base.v1.yaml, docs/device-data/common-fields.md).

``time`` is UTC, written ``YYYY-MM-DDTHH:MM:SS.sssZ``; ``deviceTime`` is the device's wall
clock without zone, ``YYYY-MM-DDTHH:MM:SS``; ``timezoneOffset`` is in minutes and
``clockDriftOffset`` / ``conversionOffset`` in milliseconds (docs/datetime/).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel


def format_utc(moment: datetime) -> str:
    """Tidepool's UTC form, millisecond precision: ``2016-06-28T01:09:55.132Z``."""
    if moment.tzinfo is None:
        raise ValueError("a UTC time must carry a zone")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_device_time(moment: datetime) -> str:
    """Device wall-clock time without zone: ``2016-06-27T18:09:55``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


UtcTime = Annotated[datetime, PlainSerializer(format_utc, return_type=str)]
DeviceTime = Annotated[datetime, PlainSerializer(format_device_time, return_type=str)]


class TidepoolModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_json(self) -> dict[str, Any]:
        """The datum as the API expects it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Annotation(TidepoolModel):
    """docs/device-data/annotations.md; ``bg/out-of-range`` carries value and threshold."""

    code: Annotated[str, Field(pattern=r"^[0-9a-z\-_]+(/[0-9a-z\-_]+(/[0-9a-z\-_]+)?)?$")]
    value: Literal["low", "high"] | None = None
    threshold: float | None = None


class Origin(TidepoolModel):
    """Where a datum came from outside Tidepool (common/models/origin.v1.yaml)."""

    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    time: UtcTime
    type: Literal["application", "device", "manual", "service"]
    version: Annotated[str, Field(min_length=1, max_length=100)]


class DeviceDatum(TidepoolModel):
    """Base of every datum read from a device."""

    type: str
    time: UtcTime
    device_time: DeviceTime
    timezone_offset: Annotated[int, Field(ge=-10080, le=10080)]
    clock_drift_offset: Annotated[int, Field(ge=-86_400_000, le=86_400_000)] = 0
    conversion_offset: int = 0
    device_id: Annotated[str, Field(min_length=1)]
    origin: Origin | None = None
    annotations: Annotated[list[Annotation], Field(max_length=100)] | None = None
    payload: dict[str, Any] | None = None

    @field_validator("time")
    @classmethod
    def _time_is_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must be UTC (timezone-aware)")
        return value.astimezone(UTC)

    @field_validator("device_time")
    @classmethod
    def _device_time_is_naive(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("deviceTime is the device's wall clock and carries no zone")
        return value
