"""``cbg``: a continuous (sensor) blood glucose value.

Spec: reference/data/models/blood/continuousglucose.v1.yaml, docs/device-data/data-types/cbg.md:
units and value as for smbg, plus optional ``trendRate`` with ``trendRateUnits``
(``mg/dL/minute``) and ``sampleInterval`` in milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum


class Cbg(DeviceDatum):
    type: Literal["cbg"] = "cbg"
    units: Literal["mg/dL", "mmol/L"]
    value: int | float
    trend_rate: float | None = None
    trend_rate_units: Literal["mg/dL/minute", "mmol/L/minute"] | None = None
    sample_interval: Annotated[int, Field(ge=0, le=86_400_000)] | None = None

    @model_validator(mode="after")
    def _value_fits_units(self) -> Cbg:
        if self.units == "mg/dL" and (
            not float(self.value).is_integer() or not 0 <= self.value <= 1000
        ):
            raise ValueError(f"a mg/dL value must be an integer 0..1000, got {self.value}")
        if (self.trend_rate is None) != (self.trend_rate_units is None):
            raise ValueError("trendRate and trendRateUnits go together")
        return self
