"""MiniMed 600-series Bolus Wizard estimate, device side: the BOLUS_WIZARD_ESTIMATE (0x3D)
history event body.

Specification: the public NGP history layout (Tidepool's NGP history parser,
``BolusWizardEstimateEvent``): bg units, carb units, bgInput, carbInput, ISF, carb ratio, low
and high target, correction / food estimate, active insulin and its adjustment, wizard
estimate, step size, modified flag, final estimate. The flag's bit and the signed correction
are the emulator's choices (``minimed600_constants``: ``WIZARD_*``; docs/protocols/minimed600.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from emulator.protocols import minimed600_constants as c

U = 10000
"""Insulin amounts travel in 1/10000 U."""


@dataclass(frozen=True)
class WizardEstimate:
    """One use of the pump's Bolus Wizard, in the pump's units (mg/dL, grams, U)."""

    bg_input: int
    """mg/dL; 0 when no BG was entered."""
    carb_input: int
    isf: int
    """mg/dL per U."""
    carb_ratio: float
    """grams per U (one decimal)."""
    bg_target_low: int
    bg_target_high: int
    correction: float
    food: float
    active_insulin: float
    active_insulin_adjustment: float
    estimate: float
    final: float
    """What the person confirmed: the programmed total of the bolus that follows."""

    @property
    def modified(self) -> bool:
        return round(self.final * U) != round(self.estimate * U)


def bolus_wizard_estimate_body(
    estimate: WizardEstimate,
    bg_units: int = c.WIZARD_BG_MG_DL,
    step: int = c.WIZARD_STEP,
) -> bytes:
    """The 42 bytes after the event header (mg/dL and grams)."""
    e = estimate
    body = struct.pack(
        ">BBHHHIHHiIIIIBBI",
        bg_units,
        c.WIZARD_CARB_GRAMS,
        e.bg_input,
        e.carb_input,
        e.isf,
        round(e.carb_ratio * 10),
        e.bg_target_low,
        e.bg_target_high,
        round(e.correction * U),
        round(e.food * U),
        round(e.active_insulin * U),
        round(e.active_insulin_adjustment * U),
        round(e.estimate * U),
        step,
        c.WIZARD_MODIFIED_BIT if e.modified else 0,
        round(e.final * U),
    )
    assert len(body) == c.WIZARD_EVENT_SIZE - c.EVENT_HEADER_SIZE
    return body
