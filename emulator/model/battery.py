"""A device battery: charge level and the thresholds at which firmware reacts.

Real meters refuse to transfer data (or shut down) when the battery is too low, and pumps
raise annunciations. A bench supply stands in for the battery on a rig: ``set_voltage`` maps
its voltage to a charge level along a linear discharge curve between ``empty_volts`` and
``full_volts`` (defaults: one Li-ion cell, 3.0 V to 4.2 V). ``powered`` is False when the
supply is off or the charge is critical: the firmware shuts the device down.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Battery:
    """Charge in percent; ``low_percent`` warns, ``critical_percent`` stops communication."""

    percent: float = 80.0
    low_percent: float = 20.0
    critical_percent: float = 5.0
    empty_volts: float = 3.0
    full_volts: float = 4.2
    #: The supply is connected (False: battery out, or the bench supply switched off).
    supplied: bool = True

    def __post_init__(self) -> None:
        self.percent = max(0.0, min(100.0, self.percent))

    @property
    def is_low(self) -> bool:
        return self.percent <= self.low_percent

    @property
    def is_critical(self) -> bool:
        return self.percent <= self.critical_percent

    def drain(self, percent: float) -> None:
        self.percent = max(0.0, self.percent - percent)

    def set_voltage(self, volts: float) -> None:
        """The battery (or the bench supply in its place) now reads ``volts``."""
        span = self.full_volts - self.empty_volts
        self.percent = max(0.0, min(100.0, 100.0 * (volts - self.empty_volts) / span))
        self.supplied = True

    @property
    def voltage(self) -> float:
        """The terminal voltage that corresponds to the charge level."""
        return self.empty_volts + (self.full_volts - self.empty_volts) * self.percent / 100.0

    @property
    def powered(self) -> bool:
        """The device runs: supplied and above the critical level."""
        return self.supplied and not self.is_critical
