"""Deterministic generators of realistic device history (seeded, repeatable)."""

from emulator.generators.cgm_history import CgmHistory, CgmHistoryProfile, SignalLoss
from emulator.generators.meter_history import MeterHistoryProfile, generate_meter_history

__all__ = [
    "CgmHistory",
    "CgmHistoryProfile",
    "MeterHistoryProfile",
    "SignalLoss",
    "generate_meter_history",
]
