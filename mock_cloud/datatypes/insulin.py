"""Field types shared by the insulin datums (bolus, basal, wizard, pumpSettings).

Amounts in units of insulin 0..100 (bolus/*.yaml), bolus durations in milliseconds up to
one day (bolus/extended.v1.yaml), basal durations up to one week (basal/duration.v1.yaml),
basal rates 0..100 U/h (basal/deliveryrate.v1.yaml), temp-basal percent 0..10 (1.0 is 100%,
basal/percentage.v1.yaml), and the insulin formulation object (insulin/formulation.v1.yaml;
accepted as any JSON object of at most 4 kB).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictInt, StrictStr

from mock_cloud.datatypes.fields import Number, in_range
from mock_cloud.problems import custom_error

MAX_FORMULATION_BYTES = 4096

InsulinAmount = Annotated[Number, in_range(0, 100)]
BolusDuration = Annotated[StrictInt, Field(ge=0, le=86_400_000)]
BasalDuration = Annotated[StrictInt, Field(ge=0, le=604_800_000)]
BasalRate = Annotated[Number, in_range(0, 100)]
BasalPercent = Annotated[Number, in_range(0, 10)]
ScheduleName = Annotated[StrictStr, Field(min_length=1, max_length=1000)]


def _formulation_size(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_FORMULATION_BYTES:
        raise custom_error(
            "length-out-of-range",
            f"insulinFormulation must be at most {MAX_FORMULATION_BYTES} bytes",
        )
    return value


InsulinFormulation = Annotated[dict[str, Any], AfterValidator(_formulation_size)]
