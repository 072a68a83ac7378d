"""Deterministic fault plans for emulated devices and their links.

A ``FaultPlan`` is a list of typed faults that a device consults at fixed hook points:

- device faults, applied by protocol engines: ``CorruptChecksum`` (send frame N with a
  wrong checksum, once, a few times, or every time);
- link faults, applied by the USB attachment: ``UnplugAfterBytes`` (the cable is pulled
  once N bytes have crossed it, mid-transfer if N says so), ``StallEndpoint`` (the endpoint
  answers STALL from its Nth transfer), ``DelayInReport`` (IN report N is held back).

Every fault that fires is recorded in ``fired``, so a test can assert that the failure it
meant to provoke actually happened. Faults can be added while a device is running. Later
issues add device faults (clock reset, battery low, memory wrap), BLE link faults and
scenario files that build plans.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TypeVar


@dataclass(frozen=True)
class CorruptChecksum:
    """Send frame ``frame`` (0 = the first frame of a transfer) with a wrong checksum.

    ``times`` is how many sends of that frame are corrupted: 1 (the host's NAK fixes it),
    or None for a meter that never gets it right."""

    frame: int
    times: int | None = 1


@dataclass(frozen=True)
class UnplugAfterBytes:
    """Pull the cable once ``nbytes`` have crossed the link (IN and OUT, whole reports)."""

    nbytes: int


@dataclass(frozen=True)
class StallEndpoint:
    """``endpoint`` answers STALL from the link's ``after_transfers``-th transfer on."""

    endpoint: int
    after_transfers: int = 0


@dataclass(frozen=True)
class DelayInReport:
    """Hold IN report number ``report`` (counted from 0 since plug-in) for ``seconds``."""

    report: int
    seconds: float


Fault = CorruptChecksum | UnplugAfterBytes | StallEndpoint | DelayInReport
F = TypeVar("F", CorruptChecksum, UnplugAfterBytes, StallEndpoint, DelayInReport)


@dataclass
class FaultPlan:
    """The faults a device will suffer, and a log of the ones that fired."""

    faults: list[Fault] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._corrupted: dict[int, int] = {}
        self._delayed: set[int] = set()
        self._stalled: set[int] = set()

    def add(self, fault: Fault) -> FaultPlan:
        with self._lock:
            self.faults.append(fault)
        return self

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def record(self, what: str) -> None:
        with self._lock:
            self.fired.append(what)

    def _of(self, kind: type[F]) -> list[F]:
        with self._lock:
            return [f for f in self.faults if isinstance(f, kind)]

    # ---- device hook points -------------------------------------------------------------

    def corrupt_frame(self, index: int) -> bool:
        """Should frame ``index`` of this transfer go out with a bad checksum, this time?"""
        for fault in self._of(CorruptChecksum):
            if fault.frame != index:
                continue
            with self._lock:
                done = self._corrupted.get(index, 0)
                if fault.times is not None and done >= fault.times:
                    continue
                self._corrupted[index] = done + 1
            self.record(f"corrupted checksum of frame {index} (send {done + 1})")
            return True
        return False

    # ---- link hook points ---------------------------------------------------------------

    def unplug_after_bytes(self) -> int | None:
        limits = [f.nbytes for f in self._of(UnplugAfterBytes)]
        return min(limits) if limits else None

    def stalls(self, endpoint: int, transfer_number: int) -> bool:
        for fault in self._of(StallEndpoint):
            if fault.endpoint == endpoint and transfer_number >= fault.after_transfers:
                with self._lock:
                    if endpoint in self._stalled:
                        return False
                    self._stalled.add(endpoint)
                self.record(f"stalled endpoint 0x{endpoint:02x} at transfer {transfer_number}")
                return True
        return False

    def in_report_delay(self, report: int) -> float:
        """Extra delay for IN report ``report``, given once (0.0 when none applies)."""
        for fault in self._of(DelayInReport):
            if fault.report == report:
                with self._lock:
                    if report in self._delayed:
                        return 0.0
                    self._delayed.add(report)
                self.record(f"delayed IN report {report} by {fault.seconds} s")
                return fault.seconds
        return 0.0
