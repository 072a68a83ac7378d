"""Self-monitored blood glucose (``smbg``): a fingerstick meter reading.

Implements reference/data/models/blood/selfmonitoredglucose.v1.yaml with
blood/glucose/glucose{mgdl,mmol}.v1.yaml and docs/device-data/data-types/smbg.md: ``units``
and ``value`` as ``glucose`` describes; ``subType`` is linked, manual or scanned.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ValidationInfo, field_validator

from mock_cloud.datatypes.common import BaseDatum
from mock_cloud.datatypes.fields import Number, Opt
from mock_cloud.datatypes.glucose import (
    MGDL_MAX,
    MGDL_UNITS,
    MMOL_MAX,
    MMOL_UNITS,
    GlucoseUnits,
    check_glucose_value,
)

__all__ = ["MGDL_MAX", "MGDL_UNITS", "MMOL_MAX", "MMOL_UNITS", "Smbg", "check_glucose_value"]


class Smbg(BaseDatum):
    """A self-monitored blood glucose reading."""

    DATA_TYPE: ClassVar[str] = "smbg"

    type: Literal["smbg"]
    units: GlucoseUnits
    value: Number
    subType: Opt[Literal["linked", "manual", "scanned"]] = None

    @field_validator("value")
    @classmethod
    def _value_in_units(cls, value: int | float, info: ValidationInfo) -> int | float:
        return check_glucose_value(value, info.data.get("units"))
