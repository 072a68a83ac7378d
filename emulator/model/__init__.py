"""Device models: identity, clock, battery, memory and the record ledger, with no protocol."""

from emulator.model.battery import Battery
from emulator.model.clock import DeviceClock
from emulator.model.memory import RecordMemory
from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag

__all__ = [
    "Battery",
    "DeviceClock",
    "GlucoseUnit",
    "MeterModel",
    "MeterReading",
    "ReadingFlag",
    "RecordMemory",
]
