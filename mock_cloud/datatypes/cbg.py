"""Continuous glucose (``cbg``): one CGM sensor reading.

Implements reference/data/models/blood/continuousglucose.v1.yaml with blood/glucose/
{trend,trendrate,sampleinterval,backfilled}.v1.yaml, blood/rateunits.v1.yaml and
docs/device-data/data-types/cbg.md: ``units``/``value`` as for smbg; ``trend`` (one of the
seven named arrows), ``trendRate`` (-100..100) with ``trendRateUnits`` in the units of the
value per minute, ``sampleInterval`` (milliseconds, 0..86400000) and ``backfilled``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator

from mock_cloud.datatypes.common import BaseDatum, Relation
from mock_cloud.datatypes.fields import Number, Opt, in_range
from mock_cloud.datatypes.glucose import MGDL_UNITS, GlucoseUnits, check_glucose_value

Trend = Literal[
    "constant",
    "slowFall",
    "slowRise",
    "moderateFall",
    "moderateRise",
    "rapidFall",
    "rapidRise",
]
TrendRate = Annotated[Number, in_range(-100, 100)]
SampleInterval = Annotated[StrictInt, Field(ge=0, le=86_400_000)]


class Cbg(BaseDatum):
    """A continuous glucose reading."""

    DATA_TYPE: ClassVar[str] = "cbg"

    type: Literal["cbg"]
    units: GlucoseUnits
    value: Number
    trend: Opt[Trend] = None
    trendRate: Opt[TrendRate] = None
    trendRateUnits: Opt[Literal["mg/dL/minute", "mmol/L/minute"]] = None
    sampleInterval: Opt[SampleInterval] = None
    backfilled: Opt[StrictBool] = None

    @field_validator("value")
    @classmethod
    def _value_in_units(cls, value: int | float, info: ValidationInfo) -> int | float:
        return check_glucose_value(value, info.data.get("units"))

    def relation_problems(self) -> list[Relation]:
        """trendRate and trendRateUnits come together, in the units of the value."""
        if self.trendRate is not None and self.trendRateUnits is None:
            return [
                Relation(
                    ("trendRateUnits",),
                    "value-not-exists",
                    "trendRateUnits is required with trendRate",
                )
            ]
        if self.trendRateUnits is not None:
            expected = "mg/dL/minute" if self.units in MGDL_UNITS else "mmol/L/minute"
            if self.trendRateUnits != expected:
                return [
                    Relation(
                        ("trendRateUnits",),
                        "value-not-allowed",
                        f"trendRateUnits must be {expected} for a value in {self.units}",
                    )
                ]
        return []
