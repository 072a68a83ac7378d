"""Bolus calculator records (``wizard``).

Implements reference/data/models/bolus/calculator.v1.yaml and
docs/device-data/data-types/calculator.md: ``bgInput`` and ``insulinSensitivity`` (glucose
values), ``bgTarget`` (a glucose target), ``carbInput`` (whole 0..1000), ``insulinCarbRatio``
and ``insulinOnBoard`` (0..250), ``recommended`` (``carb`` 0..100, ``correction`` and ``net``
-100..100 units), ``units`` (required when any glucose field is sent; mg/dL or mmol/L),
``carbUnits`` and ``bolus``: the id of the bolus the calculation led to. (The platform
also takes the bolus embedded; here it is a reference, so the bolus is uploaded once, as a
bolus datum.)
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from mock_cloud.datatypes.common import BaseDatum, Relation
from mock_cloud.datatypes.fields import Number, Opt, in_range
from mock_cloud.datatypes.glucose import (
    GlucoseTarget,
    GlucoseUnits,
    glucose_problem,
    target_problems,
)


class Recommended(BaseModel):
    """What the calculator recommended."""

    model_config = ConfigDict(extra="forbid")

    carb: Opt[Annotated[Number, in_range(0, 100)]] = None
    correction: Opt[Annotated[Number, in_range(-100, 100)]] = None
    net: Opt[Annotated[Number, in_range(-100, 100)]] = None


class Wizard(BaseDatum):
    """One use of the pump's bolus calculator."""

    DATA_TYPE: ClassVar[str] = "wizard"

    type: Literal["wizard"]
    bgInput: Opt[Number] = None
    bgTarget: Opt[GlucoseTarget] = None
    bolus: Opt[Annotated[StrictStr, Field(min_length=1, max_length=100)]] = None
    carbInput: Opt[Annotated[StrictInt, Field(ge=0, le=1000)]] = None
    insulinCarbRatio: Opt[Annotated[Number, in_range(0, 250)]] = None
    insulinOnBoard: Opt[Annotated[Number, in_range(0, 250)]] = None
    insulinSensitivity: Opt[Number] = None
    recommended: Opt[Recommended] = None
    units: Opt[GlucoseUnits] = None
    carbUnits: Opt[Literal["grams", "exchanges"]] = None

    def relation_problems(self) -> list[Relation]:
        """Glucose fields need ``units`` and must be valid in them."""
        found: list[Relation] = []
        glucose_fields = {"bgInput": self.bgInput, "insulinSensitivity": self.insulinSensitivity}
        has_glucose = (
            any(v is not None for v in glucose_fields.values()) or self.bgTarget is not None
        )
        if has_glucose and self.units is None:
            return [
                Relation(
                    ("units",),
                    "value-not-exists",
                    "units is required with bgInput, bgTarget or insulinSensitivity",
                )
            ]
        for name, value in glucose_fields.items():
            if value is not None:
                problem = glucose_problem(value, self.units)
                if problem is not None:
                    found.append(Relation((name,), "value-out-of-range", f"{name}: {problem}"))
        if self.bgTarget is not None:
            for field, code, detail in target_problems(self.bgTarget, self.units):
                found.append(
                    Relation(("bgTarget", field) if field else ("bgTarget",), code, detail)
                )
        return found
