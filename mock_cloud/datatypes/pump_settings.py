"""Insulin pump settings (``pumpSettings``): schedules, ratios, sensitivities and targets.

Implements the parts of reference/data/models/pumpsettings/pumpsettings.v1.yaml and
docs/device-data/data-types/pump-settings.md that pumps report: ``basalSchedules`` (name to
segments ``{start, rate}``, basal/rate/startarray.v1.yaml: rate 0..20 U/h), ``activeSchedule``
(which must name one of them), ``carbRatios`` (``{start, amount}``, amount 0..250 g/U),
``insulinSensitivities`` (``{start, amount}``, a glucose value), ``bgTargets`` (``{start,
low/high/target/range}``), ``units`` (``bg`` and ``carb``; glucose values follow ``bg``),
plus the descriptive fields (manufacturers, model, serialNumber, firmware, hardware and
software versions, name), ``display``, ``bolus`` and ``insulinFormulation``. ``start`` is
milliseconds after midnight (0 to 86399999); each schedule's segments start at 0 and
strictly increase. The singular legacy forms (``basalSchedule``, ``bgTarget``, ...) and the
automated-delivery fields (``overridePresets``, ``sleepSchedules``, ...) are not accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from mock_cloud.datatypes.common import BaseDatum, Relation
from mock_cloud.datatypes.fields import Number, Opt, in_range
from mock_cloud.datatypes.glucose import GlucoseTarget, glucose_problem, target_problems
from mock_cloud.datatypes.insulin import InsulinFormulation

MAX_SCHEDULES = 100
MAX_SEGMENTS = 288
Start = Annotated[Number, in_range(0, 86_399_999)]
Text100 = Annotated[StrictStr, Field(min_length=1, max_length=100)]
ScheduleKey = Annotated[StrictStr, Field(min_length=1, max_length=1000)]


class BasalSegment(BaseModel):
    """One segment of a basal schedule."""

    model_config = ConfigDict(extra="forbid")

    start: Start
    rate: Annotated[Number, in_range(0, 20)]


class CarbRatioSegment(BaseModel):
    """One segment of a carb ratio schedule."""

    model_config = ConfigDict(extra="forbid")

    start: Start
    amount: Annotated[Number, in_range(0, 250)]


class SensitivitySegment(BaseModel):
    """One segment of an insulin sensitivity schedule (glucose drop per unit)."""

    model_config = ConfigDict(extra="forbid")

    start: Start
    amount: Number


class TargetSegment(GlucoseTarget):
    """One segment of a glucose target schedule."""

    start: Start


class SettingsUnits(BaseModel):
    """Units the pump shows."""

    model_config = ConfigDict(extra="forbid")

    bg: Literal["mg/dL", "mg/dl", "mmol/L", "mmol/l"]
    carb: Literal["grams", "exchanges"]


BasalSchedules = Annotated[
    dict[ScheduleKey, Annotated[list[BasalSegment], Field(min_length=1, max_length=MAX_SEGMENTS)]],
    Field(max_length=MAX_SCHEDULES),
]
CarbRatios = Annotated[
    dict[
        ScheduleKey, Annotated[list[CarbRatioSegment], Field(min_length=1, max_length=MAX_SEGMENTS)]
    ],
    Field(max_length=MAX_SCHEDULES),
]
Sensitivities = Annotated[
    dict[
        ScheduleKey,
        Annotated[list[SensitivitySegment], Field(min_length=1, max_length=MAX_SEGMENTS)],
    ],
    Field(max_length=MAX_SCHEDULES),
]
Targets = Annotated[
    dict[ScheduleKey, Annotated[list[TargetSegment], Field(min_length=1, max_length=MAX_SEGMENTS)]],
    Field(max_length=MAX_SCHEDULES),
]


def _order_problems(name: str, schedules: dict[str, list[Any]] | None) -> list[Relation]:
    found: list[Relation] = []
    for key, segments in (schedules or {}).items():
        if segments[0].start != 0:
            found.append(
                Relation(
                    (name, key, 0, "start"),
                    "value-not-valid",
                    "the first segment must start at 0 (midnight)",
                )
            )
        for index in range(1, len(segments)):
            if segments[index].start <= segments[index - 1].start:
                found.append(
                    Relation(
                        (name, key, index, "start"),
                        "value-not-valid",
                        "segments must be in order of start, each later than the one before",
                    )
                )
    return found


class PumpSettings(BaseDatum):
    """A snapshot of the pump's therapy settings."""

    DATA_TYPE: ClassVar[str] = "pumpSettings"

    type: Literal["pumpSettings"]
    activeSchedule: Opt[ScheduleKey] = None
    basalSchedules: Opt[BasalSchedules] = None
    carbRatios: Opt[CarbRatios] = None
    insulinSensitivities: Opt[Sensitivities] = None
    bgTargets: Opt[Targets] = None
    units: SettingsUnits
    manufacturers: Opt[Annotated[list[Text100], Field(max_length=10)]] = None
    model: Opt[Text100] = None
    serialNumber: Opt[Text100] = None
    firmwareVersion: Opt[Text100] = None
    hardwareVersion: Opt[Text100] = None
    softwareVersion: Opt[Text100] = None
    name: Opt[Text100] = None
    display: Opt[dict[str, Any]] = None
    bolus: Opt[dict[str, Any]] = None
    insulinFormulation: Opt[InsulinFormulation] = None
    dosingEnabled: Opt[StrictBool] = None

    def relation_problems(self) -> list[Relation]:
        """Active schedule exists; segments ordered; glucose values follow ``units.bg``."""
        found: list[Relation] = []
        if self.activeSchedule is not None and self.activeSchedule not in (
            self.basalSchedules or {}
        ):
            found.append(
                Relation(
                    ("activeSchedule",),
                    "value-not-valid",
                    f"activeSchedule {self.activeSchedule!r} is not one of basalSchedules",
                )
            )
        found += _order_problems("basalSchedules", self.basalSchedules)
        found += _order_problems("carbRatios", self.carbRatios)
        found += _order_problems("insulinSensitivities", self.insulinSensitivities)
        found += _order_problems("bgTargets", self.bgTargets)
        bg = self.units.bg
        for key, segments in (self.insulinSensitivities or {}).items():
            for index, segment in enumerate(segments):
                problem = glucose_problem(segment.amount, bg)
                if problem is not None:
                    found.append(
                        Relation(
                            ("insulinSensitivities", key, index, "amount"),
                            "value-out-of-range",
                            f"amount: {problem}",
                        )
                    )
        for key, targets in (self.bgTargets or {}).items():
            for index, target in enumerate(targets):
                for field, code, detail in target_problems(target, bg):
                    path: tuple[str | int, ...] = ("bgTargets", key, index) + (
                        (field,) if field else ()
                    )
                    found.append(Relation(path, code, detail))
        return found
