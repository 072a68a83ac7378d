"""A device battery: charge level and the thresholds at which firmware reacts.

Real meters refuse to transfer data (or shut down) when the battery is too low, and pumps
raise annunciations; no emulated device acts on its battery yet. The model is here for the
bench-rig issue, whose fixture drives it from a bench supply's voltage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Battery:
    """Charge in percent; ``low_percent`` warns, ``critical_percent`` stops communication."""

    percent: float = 80.0
    low_percent: float = 20.0
    critical_percent: float = 5.0

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
