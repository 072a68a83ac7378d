"""The emulated MiniMed 600's Bolus Wizard: its arithmetic and the estimate events it logs
before each meal bolus (linked to the bolus the way a host reads the link)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from emulator.devices.cnl24 import build_cnl_minimed
from emulator.devices.minimed600_wizard import wizard_for_bolus
from emulator.model.pump import BolusKind, BolusRecord, PumpSettings, template
from emulator.protocols import minimed600_constants as c

TZ = "America/New_York"
END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

SETTINGS = PumpSettings(
    basal_templates=(template(1, [(0, 0.8)]),),
    isf_templates=(template(1, [(0, 50.0)]),),
    icr_templates=(template(1, [(0, 10.0)]),),
    target_templates=(template(1, [(0, (90.0, 110.0))]),),
)


def _bolus(fast: float, extended: float = 0.0) -> BolusRecord:
    start = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
    return BolusRecord(
        bolus_id=1,
        kind=BolusKind.FAST if not extended else BolusKind.MULTIWAVE,
        start=start,
        start_display=datetime(2026, 11, 30, 7, 30),
        end=start,
        programmed_fast=fast,
        programmed_extended=extended,
        programmed_minutes=60 if extended else 0,
        delivered_fast=fast,
        delivered_extended=extended,
        delivered_minutes=60 if extended else 0,
        cancelled=False,
        meal=True,
    )


def test_high_bg_adds_a_correction_and_the_person_lowers_the_estimate() -> None:
    wizard = wizard_for_bolus(SETTINGS, _bolus(4.5), 180)
    assert (wizard.carb_input, wizard.food, wizard.correction) == (45, 4.5, 1.4)
    assert (wizard.bg_target_low, wizard.bg_target_high, wizard.isf) == (90, 110, 50)
    assert wizard.active_insulin == 0.0 and wizard.estimate == 5.9
    assert wizard.final == 4.5 and wizard.modified


def test_low_bg_takes_insulin_off_and_no_bg_means_no_correction() -> None:
    low = wizard_for_bolus(SETTINGS, _bolus(2.0, 1.9), 70)
    assert (low.carb_input, low.correction, low.estimate, low.final) == (39, -0.4, 3.5, 3.9)
    in_range = wizard_for_bolus(SETTINGS, _bolus(3.0), 100)
    assert in_range.correction == 0.0 and in_range.estimate == 3.0 and not in_range.modified
    none = wizard_for_bolus(SETTINGS, _bolus(3.0), None)
    assert none.bg_input == 0 and none.correction == 0.0 and not none.modified


def test_the_estimate_is_rounded_down_to_the_bolus_step() -> None:
    # 45 g at 10 g/U and (113 - 110) / 50 = 0.06 U: 4.56 rounds down to 4.55.
    assert wizard_for_bolus(SETTINGS, _bolus(4.5), 113).estimate == 4.55


def test_each_meal_bolus_is_preceded_by_its_linked_estimate() -> None:
    link = build_cnl_minimed(timezone=TZ, end=END, seed=3, days=10, time_source=lambda: END)
    pump = link.pump
    events = pump.history_events(c.HISTORY_PUMP_DATA)
    meals = [b for b in pump.model.ledger.boluses if b.meal]
    wizards = [i for i, e in enumerate(events) if e[0] == c.EV_BOLUS_WIZARD_ESTIMATE]
    assert len(wizards) == len(meals) > 5
    bgs = {struct.unpack(">H", e[12:14])[0] for e in events if e[0] == c.EV_BG_READING}
    programmed = (
        c.EV_NORMAL_BOLUS_PROGRAMMED,
        c.EV_SQUARE_BOLUS_PROGRAMMED,
        c.EV_DUAL_BOLUS_PROGRAMMED,
    )
    for index in wizards:
        wizard, bolus = events[index], events[index + 1]
        assert len(wizard) == wizard[2] == c.WIZARD_EVENT_SIZE
        assert bolus[0] in programmed and bolus[11] == c.BOLUS_SOURCE_WIZARD
        assert wizard[3:11] == bolus[3:11]  # same instant
        amounts = struct.unpack(">I", bolus[14:18])[0]
        if bolus[0] == c.EV_DUAL_BOLUS_PROGRAMMED:
            amounts += struct.unpack(">I", bolus[18:22])[0]
        assert struct.unpack(">I", wizard[49:53])[0] == amounts
        bg = struct.unpack(">H", wizard[13:15])[0]
        assert bg == 0 or bg in bgs
