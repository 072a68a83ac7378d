"""``basal``: scheduled, temporary (``temp``) and ``suspend`` basal intervals.

Spec: reference/data/models/basal/{scheduled,temporary,suspend}.v1.yaml, basal/suppressed/ and
docs/device-data/data-types/basal*.md. ``rate`` is U/h, ``duration`` / ``expectedDuration``
milliseconds (up to a week; expected never below actual), ``percent`` of a temp basal a
fraction (1.0 = 100%). A temp basal or a suspend carries the ``suppressed`` basal it replaced
(a scheduled one, with its ``scheduleName``); a suspend has no rate.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum, TidepoolModel

Rate = Annotated[float, Field(ge=0, le=100)]
Duration = Annotated[int, Field(ge=0, le=604_800_000)]


class Suppressed(TidepoolModel):
    type: Literal["basal"] = "basal"
    delivery_type: Literal["scheduled", "temp"]
    rate: Rate
    schedule_name: str | None = None
    percent: Annotated[float, Field(ge=0, le=10)] | None = None


class Basal(DeviceDatum):
    type: Literal["basal"] = "basal"
    delivery_type: Literal["scheduled", "temp", "suspend"]
    duration: Duration
    expected_duration: Duration | None = None
    rate: Rate | None = None
    percent: Annotated[float, Field(ge=0, le=10)] | None = None
    schedule_name: str | None = None
    suppressed: Suppressed | None = None

    @model_validator(mode="after")
    def _fits_delivery_type(self) -> Basal:
        if (self.delivery_type == "suspend") != (self.rate is None):
            raise ValueError("a suspend has no rate; every other basal has one")
        if self.expected_duration is not None and self.expected_duration < self.duration:
            raise ValueError("expectedDuration is below duration")
        if self.delivery_type != "temp" and self.percent is not None:
            raise ValueError("only a temp basal has a percent")
        if self.delivery_type == "scheduled" and self.suppressed is not None:
            raise ValueError("a scheduled basal suppresses nothing")
        return self
