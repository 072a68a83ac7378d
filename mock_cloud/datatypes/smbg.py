"""Self-monitored blood glucose (``smbg``): a fingerstick meter reading.

Implements reference/data/models/blood/selfmonitoredglucose.v1.yaml with
blood/glucose/glucose{mgdl,mmol}.v1.yaml and docs/device-data/data-types/smbg.md: ``units``
is mg/dL or mmol/L (the spec also lists the lower-case spellings); mg/dL values are whole
numbers 0..1000, mmol/L values numbers 0..55; ``subType`` is linked, manual or scanned.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ValidationInfo, field_validator

from mock_cloud.datatypes.common import BaseDatum
from mock_cloud.datatypes.fields import Number, Opt
from mock_cloud.problems import custom_error

MGDL_UNITS = ("mg/dL", "mg/dl")
MMOL_UNITS = ("mmol/L", "mmol/l")
MGDL_MAX = 1000
MMOL_MAX = 55


def check_glucose_value(value: int | float, units: str | None) -> int | float:
    """Check a glucose value against its units; raises a pydantic custom error."""
    if value < 0:
        raise custom_error("value-out-of-range", "must not be negative")
    if units in MGDL_UNITS:
        if value != int(value):
            raise custom_error("value-not-valid", "mg/dL values must be whole numbers")
        if value > MGDL_MAX:
            raise custom_error("value-out-of-range", f"mg/dL values must be 0 to {MGDL_MAX}")
    elif units in MMOL_UNITS and value > MMOL_MAX:
        raise custom_error("value-out-of-range", f"mmol/L values must be 0 to {MMOL_MAX}")
    return value


class Smbg(BaseDatum):
    """A self-monitored blood glucose reading."""

    DATA_TYPE: ClassVar[str] = "smbg"

    type: Literal["smbg"]
    units: Literal["mg/dL", "mg/dl", "mmol/L", "mmol/l"]
    value: Number
    subType: Opt[Literal["linked", "manual", "scanned"]] = None

    @field_validator("value")
    @classmethod
    def _value_in_units(cls, value: int | float, info: ValidationInfo) -> int | float:
        return check_glucose_value(value, info.data.get("units"))
