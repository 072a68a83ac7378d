"""Deterministic generators of realistic device history (seeded, repeatable)."""

from emulator.generators.meter_history import MeterHistoryProfile, generate_meter_history

__all__ = ["MeterHistoryProfile", "generate_meter_history"]
