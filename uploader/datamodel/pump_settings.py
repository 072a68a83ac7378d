"""``pumpSettings``: the pump's basal schedules, carb ratios, sensitivities and targets.

Spec: reference/data/models/pumpsettings/pumpsettings.v1.yaml and
docs/device-data/data-types/pump-settings.md. Schedules are keyed by name; each segment
starts ``start`` milliseconds after midnight (the first at 0, then increasing). Glucose
values (sensitivities, targets) follow ``units.bg``; carb ratios are grams per unit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum, TidepoolModel

Start = Annotated[int, Field(ge=0, le=86_399_999)]


class BasalSegment(TidepoolModel):
    start: Start
    rate: Annotated[float, Field(ge=0, le=20)]


class AmountSegment(TidepoolModel):
    start: Start
    amount: Annotated[float, Field(ge=0)]


Glucose = Annotated[float, Field(ge=0, le=1000)]


class TargetSegment(TidepoolModel):
    """``low`` and ``high`` (a range: IDS, MiniMed), or a single ``target`` (t:slim X2)."""

    start: Start
    low: Glucose | None = None
    high: Glucose | None = None
    target: Glucose | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TargetSegment:
        if self.target is None and (self.low is None or self.high is None):
            raise ValueError("a target segment needs low and high, or target")
        return self


class SettingsUnits(TidepoolModel):
    bg: Literal["mg/dL", "mmol/L"]
    carb: Literal["grams", "exchanges"]


class PumpSettings(DeviceDatum):
    type: Literal["pumpSettings"] = "pumpSettings"
    active_schedule: str | None = None
    basal_schedules: dict[str, list[BasalSegment]]
    carb_ratios: dict[str, list[AmountSegment]] | None = None
    insulin_sensitivities: dict[str, list[AmountSegment]] | None = None
    bg_targets: dict[str, list[TargetSegment]] | None = None
    units: SettingsUnits
    manufacturers: list[str] | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PumpSettings:
        if self.active_schedule is not None and self.active_schedule not in self.basal_schedules:
            raise ValueError(f"activeSchedule {self.active_schedule!r} is not a schedule")
        for schedules in (
            self.basal_schedules,
            self.carb_ratios or {},
            self.insulin_sensitivities or {},
            self.bg_targets or {},
        ):
            for name, segments in schedules.items():
                starts = [s.start for s in segments]
                if not starts or starts[0] != 0 or starts != sorted(set(starts)):
                    raise ValueError(f"schedule {name!r} must start at 0 and increase")
        return self
