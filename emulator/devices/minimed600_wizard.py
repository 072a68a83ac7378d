"""The emulated MiniMed 600's Bolus Wizard: what it recommends before a meal bolus.

Specification: the 600-series Bolus Wizard as the public NGP history event records it
(BOLUS_WIZARD_ESTIMATE: carbs, BG, ratio, ISF, target range, correction and food estimates,
active insulin, estimate, final estimate) and the emulator's choices where the pump model
says less (``minimed600_constants.WIZARD_CARBS_FROM_BOLUS``, docs/protocols/minimed600.md):

- carbs entered = round(programmed total x the I:C ratio in force) (the model has no carbs);
- BG entered = the linked-meter reading before the bolus (0: none);
- correction = (BG - high) / ISF above the target range, (BG - low) / ISF below, else 0;
- active insulin 0 (the model does not track it), taken off a positive correction only;
- estimate = max(0, food + correction - adjustment), rounded down to the 0.025 U step;
- final = the programmed total the model delivers.
"""

from __future__ import annotations

import math
from datetime import datetime

from emulator.model.pump import BolusRecord, PumpSettings
from emulator.protocols import minimed600_constants as c
from emulator.protocols.minimed600_wizard import WizardEstimate

ACTIVE_INSULIN = 0.0
"""The pump model does not track active insulin: the wizard always sees 0."""


def _units(value: float) -> float:
    """To the 1/10000 U the event carries."""
    return round(value * 10000) / 10000


def _down_to_step(value: float) -> float:
    steps = math.floor(round(value / c.WIZARD_STEP_UNITS, 6))
    return _units(steps * c.WIZARD_STEP_UNITS)


def wizard_for_bolus(
    settings: PumpSettings, bolus: BolusRecord, bg_mg_dl: int | None
) -> WizardEstimate:
    """The estimate the person saw before ``bolus`` (logged at its start, on its clock)."""
    shown: datetime = bolus.start_display
    minute = shown.hour * 60 + shown.minute
    ratio = round(settings.icr_templates[0].block_at(minute)[1].values[0], 1)
    isf = round(settings.isf_templates[0].block_at(minute)[1].values[0])
    low_value, high_value = settings.target_templates[0].block_at(minute)[1].values[:2]
    low, high = round(low_value), round(high_value)
    final = _units(bolus.programmed_fast + bolus.programmed_extended)
    carbs = round(final * ratio)
    food = _units(carbs / ratio)
    bg = bg_mg_dl or 0
    correction = 0.0
    if bg and bg > high:
        correction = _units((bg - high) / isf)
    elif bg and bg < low:
        correction = _units((bg - low) / isf)
    adjustment = min(ACTIVE_INSULIN, correction) if correction > 0 else 0.0
    estimate = _down_to_step(max(0.0, food + correction - adjustment))
    return WizardEstimate(
        bg_input=bg,
        carb_input=carbs,
        isf=isf,
        carb_ratio=ratio,
        bg_target_low=low,
        bg_target_high=high,
        correction=correction,
        food=food,
        active_insulin=ACTIVE_INSULIN,
        active_insulin_adjustment=adjustment,
        estimate=estimate,
        final=final,
    )
