"""The driver contract: what every device driver does, in the lifecycle's fixed steps.

A driver is one small module per device family (``uploader.drivers.contour_usb``...). Its
class docstring lists the supported models and features. The session calls, in order:
``connect`` (and pair), ``identify``, ``fetch``, and always ``disconnect``. Methods are
coroutines so that Bluetooth drivers (bleak is asyncio) and USB drivers (pyusb blocks; they
run their I/O in a worker thread) look the same to the session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar, TypeVar

from uploader.errors import DeviceCommunicationError
from uploader.progress import Progress
from uploader.records import DeviceData, DeviceIdentity

T = TypeVar("T")


class Driver(ABC):
    """One device, reached through one transport."""

    compat_family: ClassVar[str] = ""
    """The driver's family in the compatibility table (``uploader.compat``)."""
    clock_hint: ClassVar[str] = "This device's clock cannot be set from here: set it on the device."
    """What to tell a user whose device clock is off when ``set_clock`` cannot fix it."""

    async def set_clock(self, wall_time: datetime) -> bool:
        """Set the device clock to ``wall_time`` (local, no zone), after ``fetch``; False
        when the protocol has no way to (then ``clock_hint`` says what to do)."""
        return False

    @abstractmethod
    async def connect(self) -> None:
        """Open the transport (claim the USB interface, connect and pair over BLE)."""

    @abstractmethod
    async def identify(self) -> DeviceIdentity:
        """Model, serial number, firmware and clock."""

    @abstractmethod
    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        """The device's records: all of them, or for drivers with a cursor only those after
        ``since`` (the ``DeviceData.cursor`` of the last verified read)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Release the device. Must not raise: it runs after failures too."""


def require(value: T | None) -> T:
    """``value``, set by an earlier lifecycle step; a driver used out of order raises."""
    if value is None:
        raise DeviceCommunicationError(
            "The driver was used out of order (connect, identify, fetch)."
        )
    return value
