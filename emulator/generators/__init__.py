"""Deterministic generators of realistic device history (seeded, repeatable)."""

from emulator.generators.cgm_history import CgmHistory, CgmHistoryProfile, SignalLoss
from emulator.generators.meter_history import MeterHistoryProfile, generate_meter_history
from emulator.generators.pump_history import PumpHistoryProfile, generate_pump_history

__all__ = [
    "CgmHistory",
    "CgmHistoryProfile",
    "MeterHistoryProfile",
    "PumpHistoryProfile",
    "SignalLoss",
    "generate_meter_history",
    "generate_pump_history",
]
