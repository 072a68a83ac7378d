"""``deviceEvent`` datums the uploader sends: ``timeChange``.

Spec: reference/data/models/deviceevent/timechange.v1.yaml and timechangeinfo.v1.yaml
(docs/device-data/data-types/device-event/): ``method`` automatic or manual, ``from`` and
``to`` each with the device's display ``time`` (no zone) before and after the change. Placed
in time by the offsets the change put in force (``uploader.time_bootstrap``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from uploader.datamodel.base import DeviceDatum, DeviceTime, TidepoolModel


class TimeChangeInfo(TidepoolModel):
    time: DeviceTime


class TimeChange(DeviceDatum):
    type: Literal["deviceEvent"] = "deviceEvent"
    sub_type: Literal["timeChange"] = "timeChange"
    method: Literal["automatic", "manual"]
    previous: TimeChangeInfo = Field(serialization_alias="from")
    """The display time before the change (sent as ``from``)."""
    to: TimeChangeInfo
