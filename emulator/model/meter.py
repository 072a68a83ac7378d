"""A blood glucose meter's model: identity, settings, clock, battery and result memory.

Meters measure in mg/dL internally and only *display* mmol/L, so readings are stored in
mg/dL. A measurement outside the meter's measuring range is stored as LO or HI (flagged,
with the bound as its value), as meters do. What the memory holds is the ledger.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from emulator.model.battery import Battery
from emulator.model.clock import DeviceClock
from emulator.model.memory import RecordMemory

MG_DL_PER_MMOL_L = 18.0
"""Meters convert with 18 (Ascensia's and most meters' display factor)."""


class GlucoseUnit(enum.StrEnum):
    MG_DL = "mg/dL"
    MMOL_L = "mmol/L"


class ReadingFlag(enum.StrEnum):
    """What a meter stores beside a result (the Contour marker letters, named)."""

    LOW = "low"  # below the measuring range: the meter shows LO
    HIGH = "high"  # above the measuring range: the meter shows HI
    BEFORE_MEAL = "before-meal"
    AFTER_MEAL = "after-meal"
    FEEL_BAD = "dont-feel-right"
    SICK = "sick"
    STRESS = "stress"
    ACTIVITY = "activity"
    CONTROL = "control-solution"
    USER_MARKED = "user-marked"


@dataclass(frozen=True)
class MeterReading:
    """One stored result: device wall-clock time, value in mg/dL, flags."""

    device_time: datetime
    value_mg_dl: int
    flags: frozenset[ReadingFlag] = frozenset()

    @property
    def is_control(self) -> bool:
        return ReadingFlag.CONTROL in self.flags

    @property
    def out_of_range(self) -> ReadingFlag | None:
        if ReadingFlag.LOW in self.flags:
            return ReadingFlag.LOW
        if ReadingFlag.HIGH in self.flags:
            return ReadingFlag.HIGH
        return None


@dataclass
class MeterModel:
    """Everything a meter is, apart from how it talks."""

    serial_number: str
    model_name: str
    firmware_version: str
    unit: GlucoseUnit = GlucoseUnit.MG_DL
    low_limit_mg_dl: int = 20
    high_limit_mg_dl: int = 600
    memory_capacity: int = 2000
    clock: DeviceClock = field(default_factory=DeviceClock)
    battery: Battery = field(default_factory=Battery)

    def __post_init__(self) -> None:
        self.memory: RecordMemory[MeterReading] = RecordMemory(self.memory_capacity)

    def classify(self, reading: MeterReading) -> MeterReading:
        """Store a measurement as the meter would: out-of-range values become LO or HI."""
        if reading.value_mg_dl < self.low_limit_mg_dl:
            return replace(
                reading,
                value_mg_dl=self.low_limit_mg_dl,
                flags=reading.flags | {ReadingFlag.LOW},
            )
        if reading.value_mg_dl > self.high_limit_mg_dl:
            return replace(
                reading,
                value_mg_dl=self.high_limit_mg_dl,
                flags=reading.flags | {ReadingFlag.HIGH},
            )
        return reading

    def load_history(self, readings: Iterable[MeterReading]) -> None:
        """Fill memory with past measurements (oldest first), wrapping if there are too many."""
        self.memory.extend(self.classify(r) for r in readings)

    def measure(self, value_mg_dl: int, flags: Iterable[ReadingFlag] = ()) -> MeterReading:
        """A new fingerstick now, stamped with the device clock (minute resolution)."""
        stamped = self.clock.now().replace(second=0, microsecond=0)
        reading = self.classify(MeterReading(stamped, value_mg_dl, frozenset(flags)))
        self.memory.append(reading)
        return reading

    def ledger(self) -> list[MeterReading]:
        """Every record the meter holds now, oldest first."""
        return self.memory.snapshot()

    def numbered_ledger(self) -> list[tuple[int, MeterReading]]:
        """The ledger with each record's number (1 for the first result ever stored; kept
        when older results wrap away or are deleted): the GLS sequence numbers."""
        return self.memory.numbered()

    def delete(self, numbers: Iterable[int]) -> int:
        """Delete the results with these numbers (a collector's RACP delete); how many went."""
        return self.memory.delete(set(numbers))
