"""The device clock against the computer's, at every upload.

The Tidepool checklists ask each driver to check the device's current time against a
trusted clock (``common.checkDeviceTime``, docs/checklisttemplates/*.md). The device clock is
read at IDENTIFY together with the computer's; the computer's is taken in the user's
``--timezone`` (the zone of the device's most recent data), so a device that is simply in
that zone shows no difference. Past ``threshold`` (``--clock-warning-minutes``, 15 by
default) the upload carries a warning that says both clocks and the difference, and how to
fix it: ``--set-clock`` where the device's protocol can set its clock, or by hand on the
device where it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_THRESHOLD = timedelta(minutes=15)


@dataclass
class ClockCheck:
    device: datetime
    """The device's wall clock as read at IDENTIFY."""
    computer: datetime
    """The computer's clock at the same moment, as wall time in ``timezone``."""
    timezone: str
    threshold: timedelta
    set_to: datetime | None = None
    """What ``--set-clock`` set the device clock to (None: not set)."""
    not_settable: str | None = None
    """Why ``--set-clock`` could not set it, and how to do it by hand."""

    @property
    def difference(self) -> timedelta:
        """Device minus computer: positive when the device is ahead."""
        return self.device - self.computer

    @property
    def warning(self) -> bool:
        return abs(self.difference) > self.threshold

    def message(self) -> str | None:
        """The warning for a person, or None when the clock is within the threshold."""
        if not self.warning:
            return None
        seconds = self.difference.total_seconds()
        direction = "ahead of" if seconds > 0 else "behind"
        said = (
            f"The device clock ({self.device:%Y-%m-%d %H:%M}) is {_amount(abs(seconds))} "
            f"{direction} this computer's ({self.computer:%Y-%m-%d %H:%M} in {self.timezone}); "
            "readings are placed by the device's own clock, so new ones will be off by as much."
        )
        if self.set_to is not None:
            return f"{said} It was set to {self.set_to:%Y-%m-%d %H:%M:%S} (--set-clock)."
        if self.not_settable is not None:
            return f"{said} {self.not_settable}"
        return f"{said} Run the upload with --set-clock, or set the clock on the device."

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device.isoformat(),
            "computer": self.computer.isoformat(),
            "timezone": self.timezone,
            "difference_s": self.difference.total_seconds(),
            "threshold_s": self.threshold.total_seconds(),
            "warning": self.warning,
            "set_to": self.set_to.isoformat() if self.set_to else None,
            "not_settable": self.not_settable,
            "message": self.message(),
        }


def _amount(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


def wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """An aware instant as wall time in ``zone`` (naive, whole seconds), as a device shows it."""
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)
