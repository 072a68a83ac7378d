"""Blood glucose units and values, shared by every type that carries a glucose value.

reference/data/models/blood/{units,value}*.yaml and blood/glucose/*.yaml: units are mg/dL
or mmol/L (the spec also lists the lower-case spellings); mg/dL values are whole numbers
0..1000, mmol/L values numbers 0..55. Targets (blood/glucose/target*.yaml) hold ``low``,
``high``, ``target`` and ``range`` in the same units.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mock_cloud.datatypes.fields import Number, Opt
from mock_cloud.problems import custom_error

MGDL_UNITS = ("mg/dL", "mg/dl")
MMOL_UNITS = ("mmol/L", "mmol/l")
MGDL_MAX = 1000
MMOL_MAX = 55
MGDL_PER_MMOL = 18.01559
"""Tidepool's conversion factor (docs/summary-data.md)."""

GlucoseUnits = Literal["mg/dL", "mg/dl", "mmol/L", "mmol/l"]


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


def glucose_problem(value: float, units: str | None) -> str | None:
    """Why ``value`` is not a glucose value in ``units``, or None if it is one."""
    if value < 0:
        return "must not be negative"
    if units in MGDL_UNITS:
        if value != int(value):
            return "mg/dL values must be whole numbers"
        if value > MGDL_MAX:
            return f"mg/dL values must be 0 to {MGDL_MAX}"
    elif units in MMOL_UNITS and value > MMOL_MAX:
        return f"mmol/L values must be 0 to {MMOL_MAX}"
    return None


def to_mgdl(value: float, units: str) -> float:
    """A glucose value in mg/dL."""
    return value * MGDL_PER_MMOL if units in MMOL_UNITS else float(value)


class GlucoseTarget(BaseModel):
    """A blood glucose target (target.v1.yaml): low/high, target/range, or target/high."""

    model_config = ConfigDict(extra="forbid")

    low: Opt[Number] = None
    high: Opt[Number] = None
    target: Opt[Number] = None
    range: Opt[Number] = None


GLUCOSE_TARGET_FIELDS = ("low", "high", "target", "range")


def target_problems(target: GlucoseTarget, units: str | None) -> list[tuple[str, str, str]]:
    """(field, code, detail) for each problem of a target in ``units``."""
    found: list[tuple[str, str, str]] = []
    values = {
        name: value
        for name, value in target.model_dump(exclude_none=True).items()
        if name in GLUCOSE_TARGET_FIELDS  # a schedule's segment adds its ``start``
    }
    if not values:
        found.append(("", "value-not-exists", "a target needs low and high, or target"))
    for name, value in values.items():
        problem = glucose_problem(value, units)
        if problem is not None:
            found.append((name, "value-out-of-range", f"{name}: {problem}"))
    if target.low is not None and target.high is not None and target.high < target.low:
        found.append(("high", "value-out-of-range", "high must not be below low"))
    if (target.low is None) != (target.high is None) and target.target is None:
        missing = "high" if target.high is None else "low"
        found.append(
            (
                missing,
                "value-not-exists",
                f"{missing} is required with {'low' if missing == 'high' else 'high'}",
            )
        )
    if target.range is not None and target.target is None:
        found.append(("target", "value-not-exists", "target is required with range"))
    return found
