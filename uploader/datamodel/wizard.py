"""``wizard``: one use of a pump's bolus calculator (Tidepool calculator.v1.yaml,
docs/device-data/data-types/calculator.md).

``bgInput``, ``insulinSensitivity`` and ``bgTarget`` are in ``units`` (required with any of
them); ``carbInput`` is whole (0..1000) in ``carbUnits``; ``insulinCarbRatio`` and
``insulinOnBoard`` 0..250; ``recommended``: ``carb`` 0..100, ``correction`` and ``net``
-100..100 units. ``bolus`` is the cloud id of the bolus datum the calculation led to: the
cloud assigns ids, so normalization gives the bolus's device time (``bolus_device_time``,
never sent) and the upload fills ``bolus`` once that bolus is in the cloud
(``uploader.wizard_links``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum, TidepoolModel

Amount = Annotated[float, Field(ge=0, le=250)]


class Recommended(TidepoolModel):
    carb: Annotated[float, Field(ge=0, le=100)] | None = None
    correction: Annotated[float, Field(ge=-100, le=100)] | None = None
    net: Annotated[float, Field(ge=-100, le=100)] | None = None


class BgTarget(TidepoolModel):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> BgTarget:
        if self.high < self.low:
            raise ValueError("a BG target's high is below its low")
        return self


class Wizard(DeviceDatum):
    type: Literal["wizard"] = "wizard"
    bg_input: Annotated[float, Field(gt=0)] | None = None
    bg_target: BgTarget | None = None
    carb_input: Annotated[int, Field(ge=0, le=1000)] | None = None
    carb_units: Literal["grams", "exchanges"] | None = None
    insulin_carb_ratio: Amount | None = None
    insulin_on_board: Amount | None = None
    insulin_sensitivity: Annotated[float, Field(gt=0)] | None = None
    recommended: Recommended | None = None
    units: Literal["mg/dL", "mmol/L"] | None = None
    bolus: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    bolus_device_time: datetime | None = Field(default=None, exclude=True)
    """The device time of the bolus the calculation led to (not sent: the cloud id of that
    bolus goes in ``bolus``)."""

    @model_validator(mode="after")
    def _units_with_glucose(self) -> Wizard:
        glucose = (self.bg_input, self.bg_target, self.insulin_sensitivity)
        if any(v is not None for v in glucose) and self.units is None:
            raise ValueError("units is required with bgInput, bgTarget or insulinSensitivity")
        return self
