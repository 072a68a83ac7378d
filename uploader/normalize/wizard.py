"""Bolus calculator records (``uploader.pump_records.PumpWizard``) to Tidepool ``wizard``
datums (PumpChecklist.md, "Wizard"): recommended carb, correction and net; bgInput (only when
a BG was entered), carbInput, insulinOnBoard, insulinCarbRatio, insulinSensitivity and bgTarget
low/high in the units the pump used; and the link to the bolus delivered (its device time
here, its cloud id at upload: ``uploader.wizard_links``).
"""

from __future__ import annotations

from uploader.datamodel.wizard import BgTarget, Recommended, Wizard
from uploader.normalize.placed import placed
from uploader.pump_records import PumpBolus, PumpWizard
from uploader.records import DeviceIdentity
from uploader.timeproc import TimeProcessor


def wizard_datum(
    wizard: PumpWizard, boluses: list[PumpBolus], identity: DeviceIdentity, times: TimeProcessor
) -> Wizard:
    linked = None
    if wizard.bolus_link is not None:
        linked = next((b for b in boluses if b.link == wizard.bolus_link), None)
    carbs: int | None = round(wizard.carb_input)
    payload = None
    if carbs != wizard.carb_input:  # exchanges in tenths: the datum takes whole numbers
        payload = {"carbInput": wizard.carb_input}
        carbs = None
    return Wizard(
        **placed(wizard.device_time, wizard.index, times),
        device_id=identity.device_id,
        bg_input=wizard.bg_input,
        bg_target=BgTarget(low=wizard.target_low, high=wizard.target_high),
        carb_input=carbs,
        carb_units=wizard.carb_units,
        insulin_carb_ratio=wizard.insulin_carb_ratio,
        insulin_on_board=wizard.insulin_on_board,
        insulin_sensitivity=wizard.insulin_sensitivity,
        recommended=Recommended(
            carb=wizard.recommended_carb,
            correction=wizard.recommended_correction,
            net=wizard.recommended_net,
        ),
        units=wizard.bg_units,
        bolus_device_time=linked.device_time if linked is not None else None,
        payload=payload,
    )
