"""Deterministic fault plans for emulated devices and their links.

A ``FaultPlan`` is a list of typed faults that a device consults at fixed hook points:

- device faults, applied by protocol engines: ``CorruptChecksum`` (send frame N with a
  wrong checksum, once, a few times, or every time);
- link faults, applied by the USB attachment: ``UnplugAfterBytes`` (the cable is pulled
  once N bytes have crossed it, mid-transfer if N says so), ``StallEndpoint`` (the endpoint
  halts at its Nth transfer), ``DelayInReport`` (IN report N is held back), ``DenyAccess``
  (the operating system refuses to open the device).

- BLE faults, applied by the Bluetooth attachments (``emulator.ble``):
  ``DisconnectAfterRecord`` (the device drops the link right after notifying the n-th
  record of a transfer), ``DropIndication`` (a control point's response indication is
  never sent), ``CorruptE2ECrc`` (a record goes out with a wrong E2E-CRC),
  ``RejectPairing`` (the device refuses a pairing request, as when its user cancels),
  ``CutLinkAfterPackets`` (the radio link drops once N link-layer data packets crossed it,
  counted from power-on: ATT, SMP and L2CAP signalling alike; ``emulator.ble.link_cut``).

Every fault that fires is recorded in ``fired``, so a test can assert that the failure it
meant to provoke actually happened. Faults can be added while a device is running. Faults
with ``times`` fire that many times, then stay quiet (None: every time). Later issues add
device faults (clock reset, battery low, memory wrap) and scenario files that build plans.
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
    """``endpoint`` halts (answers STALL) at the link's ``after_transfers``-th transfer, once:
    it stays halted until the host clears it (CLEAR_FEATURE ENDPOINT_HALT). Transfers are
    counted from plug-in and include the host's polls."""

    endpoint: int
    after_transfers: int = 0


@dataclass(frozen=True)
class DenyAccess:
    """Opening the device fails with "access denied", as without a udev rule on Linux."""


@dataclass(frozen=True)
class DelayInReport:
    """Hold IN report number ``report`` (counted from 0 since plug-in) for ``seconds``."""

    report: int
    seconds: float


@dataclass(frozen=True)
class DisconnectAfterRecord:
    """Drop the BLE link right after notifying record ``record`` (1 = the first) of a
    transfer (a RACP report)."""

    record: int
    times: int | None = 1

    def __post_init__(self) -> None:
        if self.record < 1:
            raise ValueError(f"record counts from 1, got {self.record}")


INDICATIONS = ("racp", "socp")


@dataclass(frozen=True)
class DropIndication:
    """Never send the response indication of a control point: ``racp`` (the response code
    or number of records ending a RACP procedure) or ``socp`` (a CGM Specific Ops
    response)."""

    which: str = "racp"
    times: int | None = 1

    def __post_init__(self) -> None:
        if self.which not in INDICATIONS:
            raise ValueError(f"which must be one of {', '.join(INDICATIONS)}, got {self.which!r}")


@dataclass(frozen=True)
class CorruptE2ECrc:
    """Send record ``record`` (1 = the first of each transfer; None = every record) with a
    wrong E2E-CRC. Only where the device sends E2E-CRCs (a CGM or an IDS pump with the
    feature on)."""

    record: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.record is not None and self.record < 1:
            raise ValueError(f"record counts from 1, got {self.record}")


@dataclass(frozen=True)
class RejectPairing:
    """Refuse a pairing request (the central gets an SMP Pairing Failed)."""

    times: int | None = 1


@dataclass(frozen=True)
class CutLinkAfterPackets:
    """Drop the BLE link instead of letting data packet ``packets + 1`` (counted from
    power-on, both directions) cross it; the packet is lost, as out of range."""

    packets: int
    times: int | None = 1

    def __post_init__(self) -> None:
        if self.packets < 0:
            raise ValueError(f"packets must be 0 or more, got {self.packets}")


Fault = (
    CorruptChecksum
    | UnplugAfterBytes
    | StallEndpoint
    | DelayInReport
    | DenyAccess
    | DisconnectAfterRecord
    | DropIndication
    | CorruptE2ECrc
    | RejectPairing
    | CutLinkAfterPackets
)
F = TypeVar(
    "F",
    CorruptChecksum,
    UnplugAfterBytes,
    StallEndpoint,
    DelayInReport,
    DenyAccess,
    DisconnectAfterRecord,
    DropIndication,
    CorruptE2ECrc,
    RejectPairing,
    CutLinkAfterPackets,
)


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
        self._fired_count: dict[Fault, int] = {}

    def add(self, fault: Fault) -> FaultPlan:
        with self._lock:
            self.faults.append(fault)
        return self

    def clear(self) -> None:
        """Remove every fault and forget which fired, so a fault added again fires again."""
        with self._lock:
            self.faults.clear()
            self._corrupted.clear()
            self._delayed.clear()
            self._stalled.clear()
            self._fired_count.clear()

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

    def denies_access(self) -> bool:
        if self._of(DenyAccess):
            self.record("denied access to the device")
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

    # ---- BLE hook points ----------------------------------------------------------------

    def _consume(self, fault: Fault, times: int | None) -> bool:
        """Count one firing of ``fault``; False once it has fired ``times`` times."""
        with self._lock:
            done = self._fired_count.get(fault, 0)
            if times is not None and done >= times:
                return False
            self._fired_count[fault] = done + 1
            return True

    def disconnect_after_record(self, record: int) -> bool:
        """Should the link drop now that record ``record`` (from 1) of a transfer went out?"""
        for fault in self._of(DisconnectAfterRecord):
            if fault.record == record and self._consume(fault, fault.times):
                self.record(f"disconnected after record {record}")
                return True
        return False

    def drop_indication(self, which: str) -> bool:
        """Should this ``racp``/``socp`` response indication be dropped?"""
        for fault in self._of(DropIndication):
            if fault.which == which and self._consume(fault, fault.times):
                self.record(f"dropped the {which} response indication")
                return True
        return False

    def corrupt_e2e_crc(self, record: int) -> bool:
        """Should record ``record`` (from 1) of a transfer carry a wrong E2E-CRC?"""
        for fault in self._of(CorruptE2ECrc):
            if fault.record in (None, record) and self._consume(fault, fault.times):
                self.record(f"corrupted the E2E-CRC of record {record}")
                return True
        return False

    def reject_pairing(self) -> bool:
        """Should this pairing request be refused?"""
        for fault in self._of(RejectPairing):
            if self._consume(fault, fault.times):
                self.record("rejected a pairing request")
                return True
        return False

    def cut_link(self, crossed: int) -> bool:
        """Should the link drop now, ``crossed`` data packets having crossed it already?"""
        for fault in self._of(CutLinkAfterPackets):
            if crossed >= fault.packets and self._consume(fault, fault.times):
                self.record(f"cut the link after {crossed} packets")
                return True
        return False
