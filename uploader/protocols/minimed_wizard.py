"""MiniMed 600-series BOLUS_WIZARD_ESTIMATE (0x3D) history event, host side.

Source: the public NGP history event layout (decoding-contour-next-link and
600SeriesAndroidUploader's history parsers describe it; docs/protocols/minimed600-host.md).
Offsets below are of the event body, after the 11-byte event header:

====== ====== ========= ==============================================================
offset size   type      meaning
====== ====== ========= ==============================================================
0      1      UInt8     BG units: 0 mg/dL, 1 mmol/L (BG values then in 0.1 mmol/L)
1      1      UInt8     carb units: 0 grams, 1 exchanges (carbs then in 0.1 exchange)
2      2      UInt16BE  BG input (0: none entered)
4      2      UInt16BE  carb input
6      2      UInt16BE  insulin sensitivity (BG units per U)
8      4      UInt32BE  carb ratio: grams per U x 10, or U per exchange x 1000
12     2      UInt16BE  BG target low
14     2      UInt16BE  BG target high
16     4      Int32BE   correction estimate, U x 10000 (negative below target)
20     4      UInt32BE  food (carb) estimate, U x 10000
24     4      UInt32BE  active insulin, U x 10000
28     4      UInt32BE  active insulin adjustment, U x 10000
32     4      UInt32BE  bolus wizard estimate (the recommendation), U x 10000
36     1      UInt8     bolus step size
37     1      UInt8     bit 0: the user changed the estimate
38     4      UInt32BE  final estimate (what the user accepted), U x 10000
====== ====== ========= ==============================================================

The event names no bolus: the bolus it led to is the next ``*_BOLUS_PROGRAMMED`` whose
source byte says "bolus wizard" (``BOLUS_SOURCE_WIZARD``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from uploader.errors import ProtocolError
from uploader.protocols.minimed_pump import INSULIN_SCALE

BOLUS_WIZARD_ESTIMATE = 0x3D
BODY_SIZE = 42
BOLUS_SOURCE_WIZARD = 1
"""The source byte (body[0]) of a *_BOLUS_PROGRAMMED event the Bolus Wizard set up."""


@dataclass(frozen=True)
class WizardEstimate:
    """One use of the Bolus Wizard, in the units the pump used."""

    bg_units: Literal["mg/dL", "mmol/L"]
    carb_units: Literal["grams", "exchanges"]
    bg_input: float | None
    """None when no BG was entered."""
    carb_input: float
    sensitivity: float
    carb_ratio: float
    target_low: float
    target_high: float
    correction: float
    food: float
    active_insulin: float
    active_insulin_adjustment: float
    recommended: float
    step_size: int
    modified_by_user: bool
    final: float


def parse_wizard_estimate(body: bytes) -> WizardEstimate:
    """The body of a BOLUS_WIZARD_ESTIMATE event; ``ProtocolError`` when it is not one."""
    if len(body) < BODY_SIZE:
        raise ProtocolError(
            f"The pump's Bolus Wizard estimate has {len(body)} bytes; {BODY_SIZE} were expected."
        )
    bg_code, carb_code = body[0], body[1]
    if bg_code not in (0, 1) or carb_code not in (0, 1):
        raise ProtocolError(
            f"The pump's Bolus Wizard estimate names unknown units (BG {bg_code}, "
            f"carbs {carb_code}).",
            hint="Report this pump's model and firmware to support; nothing was uploaded.",
        )
    mmol, exchanges = bg_code == 1, carb_code == 1
    bg_scale = 10.0 if mmol else 1.0
    bg, carbs, isf = struct.unpack_from(">HHH", body, 2)
    (ratio,) = struct.unpack_from(">I", body, 8)
    low, high = struct.unpack_from(">HH", body, 12)
    (correction,) = struct.unpack_from(">i", body, 16)
    food, iob, adjustment, estimate = struct.unpack_from(">IIII", body, 20)
    step, flags = body[36], body[37]
    (final,) = struct.unpack_from(">I", body, 38)
    return WizardEstimate(
        bg_units="mmol/L" if mmol else "mg/dL",
        carb_units="exchanges" if exchanges else "grams",
        bg_input=bg / bg_scale if bg else None,
        carb_input=carbs / 10.0 if exchanges else float(carbs),
        sensitivity=isf / bg_scale,
        carb_ratio=ratio / 1000.0 if exchanges else ratio / 10.0,
        target_low=low / bg_scale,
        target_high=high / bg_scale,
        correction=correction / INSULIN_SCALE,
        food=food / INSULIN_SCALE,
        active_insulin=iob / INSULIN_SCALE,
        active_insulin_adjustment=adjustment / INSULIN_SCALE,
        recommended=estimate / INSULIN_SCALE,
        step_size=step,
        modified_by_user=bool(flags & 1),
        final=final / INSULIN_SCALE,
    )
