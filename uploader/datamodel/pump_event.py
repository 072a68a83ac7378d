"""``deviceEvent`` datums of insulin pumps: ``reservoirChange``, ``prime``, ``status``
(delivery suspended / resumed) and ``alarm``. (``timeChange``: ``uploader.datamodel.device_event``.)

Spec: reference/data/models/deviceevent/{reservoirchange,prime,deliverystatus,alarm}.v1.yaml
and docs/device-data/data-types/device-event/: a prime's ``volume`` is units (at most 10 for
a cannula, 100 for tubing); a status event says ``suspended`` or ``resumed`` and why
(``reason``: manual or automatic); an alarm's ``alarmType`` is one of the spec's list, with
the device's own name for an ``other`` alarm in ``payload``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum, TidepoolModel
from uploader.pump_records import AlarmType


class ReservoirChange(DeviceDatum):
    type: Literal["deviceEvent"] = "deviceEvent"
    sub_type: Literal["reservoirChange"] = "reservoirChange"


class Prime(DeviceDatum):
    type: Literal["deviceEvent"] = "deviceEvent"
    sub_type: Literal["prime"] = "prime"
    prime_target: Literal["cannula", "tubing"]
    volume: Annotated[float, Field(ge=0, le=100)] | None = None

    @model_validator(mode="after")
    def _volume_fits_target(self) -> Prime:
        if self.prime_target == "cannula" and self.volume is not None and self.volume > 10:
            raise ValueError("a cannula prime is at most 10 units")
        return self


class StatusReason(TidepoolModel):
    suspended: Literal["manual", "automatic"] | None = None
    resumed: Literal["manual", "automatic"] | None = None


class DeliveryStatus(DeviceDatum):
    type: Literal["deviceEvent"] = "deviceEvent"
    sub_type: Literal["status"] = "status"
    status: Literal["suspended", "resumed"]
    reason: StatusReason | None = None


class Alarm(DeviceDatum):
    type: Literal["deviceEvent"] = "deviceEvent"
    sub_type: Literal["alarm"] = "alarm"
    alarm_type: AlarmType
