"""Device events (``deviceEvent``): reservoir change, prime, delivery status, alarm, time
change and calibration.

Implements reference/data/models/deviceevent/{reservoirchange,prime,primecannula,
primetubing,deliverystatus,alarm,timechange,timechangeinfo,calibration}.v1.yaml and
docs/device-data/data-types/device-event/*.md:

- ``reservoirChange``: optional ``status`` (id of the linked status event).
- ``prime``: ``primeTarget`` cannula or tubing; optional ``volume`` in units, at most 10
  for a cannula and 100 for tubing.
- ``status``: ``status`` suspended or resumed; optional ``reason`` (``suspended`` and/or
  ``resumed``: automatic or manual), ``duration`` and ``expectedDuration`` (milliseconds,
  expected not below actual). (deliverystatus.v1.yaml; status.v1.yaml's stricter required
  list is not applied: the docs link the former.)
- ``alarm``: ``alarmType`` from the spec's list; optional ``status``.
- ``timeChange``: either the current form (``method`` automatic or manual, ``to`` and
  optional ``from``, each ``{timeZoneName, time}``) or the legacy ``change`` object
  (``agent``, ``from``, ``to`` as zone-less local times, plus the ``reasons`` and
  ``timezone`` the Tidepool uploader sends), not both.
- ``calibration``: a glucose ``units``/``value``.

The other sub-types of the spec (pumpSettingsOverride, sensorEvent, settingsChange,
transmitterEvent) are answered as not supported yet.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from mock_cloud.datatypes.common import BaseDatum, Relation
from mock_cloud.datatypes.fields import DeviceTime, Number, Opt, TimezoneName, in_range
from mock_cloud.datatypes.glucose import GlucoseUnits, check_glucose_value

EventDuration = Annotated[StrictInt, Field(ge=0)]
PRIME_LIMITS = {"cannula": 10, "tubing": 100}
AlarmType = Literal[
    "auto_off",
    "low_insulin",
    "low_power",
    "no_delivery",
    "no_insulin",
    "no_power",
    "occlusion",
    "other",
    "over_limit",
]
TimeChangeReason = Literal[
    "from_daylight_savings", "to_daylight_savings", "travel", "correction", "other"
]


class DeviceEvent(BaseDatum):
    """Fields of every device event."""

    DATA_TYPE: ClassVar[str] = "deviceEvent"

    type: Literal["deviceEvent"]


class ReservoirChange(DeviceEvent):
    """An insulin reservoir (cartridge) change."""

    subType: Literal["reservoirChange"]
    status: Opt[StrictStr] = None


class Prime(DeviceEvent):
    """Priming the tubing or the cannula."""

    subType: Literal["prime"]
    primeTarget: Literal["cannula", "tubing"]
    volume: Opt[Annotated[Number, in_range(0, 100)]] = None

    def relation_problems(self) -> list[Relation]:
        """The volume limit depends on what was primed."""
        limit = PRIME_LIMITS[self.primeTarget]
        if self.volume is not None and self.volume > limit:
            return [
                Relation(
                    ("volume",),
                    "value-out-of-range",
                    f"a {self.primeTarget} prime volume must be between 0 and {limit}",
                )
            ]
        return []


class StatusReason(BaseModel):
    """Why delivery was suspended or resumed."""

    model_config = ConfigDict(extra="forbid")

    suspended: Opt[Literal["automatic", "manual"]] = None
    resumed: Opt[Literal["automatic", "manual"]] = None


class DeliveryStatus(DeviceEvent):
    """Insulin delivery suspended or resumed."""

    subType: Literal["status"]
    status: Literal["suspended", "resumed"]
    reason: Opt[StatusReason] = None
    duration: Opt[EventDuration] = None
    expectedDuration: Opt[EventDuration] = None

    def relation_problems(self) -> list[Relation]:
        """expectedDuration is never below duration."""
        if (
            self.duration is not None
            and self.expectedDuration is not None
            and self.expectedDuration < self.duration
        ):
            return [
                Relation(
                    ("expectedDuration",),
                    "value-out-of-range",
                    f"expectedDuration must not be below duration ({self.duration})",
                )
            ]
        return []


class Alarm(DeviceEvent):
    """An alarm the device raised."""

    subType: Literal["alarm"]
    alarmType: AlarmType
    status: Opt[StrictStr] = None


class TimeChangeInfo(BaseModel):
    """One side of a time change (timechangeinfo.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")

    timeZoneName: Opt[TimezoneName] = None
    time: Opt[DeviceTime] = None


class LegacyChange(BaseModel):
    """The legacy ``change`` object of a time change."""

    model_config = ConfigDict(extra="forbid")

    agent: Literal["automatic", "manual"]
    from_: DeviceTime = Field(alias="from")
    to: DeviceTime
    reasons: Opt[Annotated[list[TimeChangeReason], Field(min_length=1)]] = None
    timezone: Opt[TimezoneName] = None


class TimeChange(DeviceEvent):
    """The device's date and time were changed."""

    subType: Literal["timeChange"]
    method: Opt[Literal["automatic", "manual"]] = None
    from_: Opt[TimeChangeInfo] = Field(default=None, alias="from")
    to: Opt[TimeChangeInfo] = None
    change: Opt[LegacyChange] = None

    def relation_problems(self) -> list[Relation]:
        """Exactly one of the two forms."""
        current = self.method is not None or self.to is not None or self.from_ is not None
        if self.change is not None and current:
            return [
                Relation(
                    ("change",),
                    "value-not-valid",
                    "send either change (legacy form) or method/from/to, not both",
                )
            ]
        if self.change is None:
            missing = [name for name in ("method", "to") if getattr(self, name) is None]
            if missing:
                return [
                    Relation(
                        (missing[0],),
                        "value-not-exists",
                        f"{missing[0]} is required (or send the legacy change object)",
                    )
                ]
        return []

    @classmethod
    def allowed_fields(cls) -> list[str]:
        """Field names as sent (``from``, not the Python attribute name)."""
        return sorted(field.alias or name for name, field in cls.model_fields.items())


class Calibration(DeviceEvent):
    """A CGM calibration with a meter reading."""

    subType: Literal["calibration"]
    units: GlucoseUnits
    value: Number

    @field_validator("value")
    @classmethod
    def _value_in_units(cls, value: int | float, info: ValidationInfo) -> int | float:
        return check_glucose_value(value, info.data.get("units"))


DEVICE_EVENT_SUBTYPES: dict[str, type[DeviceEvent]] = {
    "reservoirChange": ReservoirChange,
    "prime": Prime,
    "status": DeliveryStatus,
    "alarm": Alarm,
    "timeChange": TimeChange,
    "calibration": Calibration,
}
"""Device event models by ``subType``."""
