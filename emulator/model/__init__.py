"""Device models: identity, clock, battery, memory and the record ledger, with no protocol."""

from emulator.model.battery import Battery
from emulator.model.cgm import CgmModel, CgmRecord, CgmSession, CgmWorld, SessionRunning
from emulator.model.clock import DeviceClock
from emulator.model.memory import RecordMemory
from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag
from emulator.model.pump import PumpLedger, PumpModel, PumpSettings, PumpStateError

__all__ = [
    "Battery",
    "CgmModel",
    "CgmRecord",
    "CgmSession",
    "CgmWorld",
    "DeviceClock",
    "GlucoseUnit",
    "MeterModel",
    "MeterReading",
    "PumpLedger",
    "PumpModel",
    "PumpSettings",
    "PumpStateError",
    "ReadingFlag",
    "RecordMemory",
    "SessionRunning",
]
