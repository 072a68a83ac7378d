"""``smbg``: a self-monitored (fingerstick) blood glucose value.

Spec: reference/data/models/blood/selfmonitoredglucose.v1.yaml with blood/glucose/*: units
``mg/dL`` (integer value 0..1000) or ``mmol/L`` (number >= 0); optional ``subType``
(linked, manual, scanned). Out-of-range results (docs/device-data/oor-values.md) carry a
``bg/out-of-range`` annotation with the threshold in mg/dL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from uploader.datamodel.base import DeviceDatum

MMOL_L_MAX = 55.0


class Smbg(DeviceDatum):
    type: Literal["smbg"] = "smbg"
    sub_type: Literal["linked", "manual", "scanned"] | None = None
    units: Literal["mg/dL", "mmol/L"]
    value: int | float

    @model_validator(mode="after")
    def _value_fits_units(self) -> Smbg:
        if self.units == "mg/dL":
            if not float(self.value).is_integer() or not 0 <= self.value <= 1000:
                raise ValueError(f"a mg/dL value must be an integer 0..1000, got {self.value}")
        elif not 0 <= self.value <= MMOL_L_MAX:
            raise ValueError(f"a mmol/L value must be 0..{MMOL_L_MAX}, got {self.value}")
        return self
