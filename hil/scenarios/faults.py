"""Scenario faults into the layers' own fault mechanisms.

Device and link faults become entries of the emulated device's ``emulator.faults.FaultPlan``
(or an immediate unplug / power-off); cloud faults become ``FaultSpec`` values for the mock
cloud's fault API (``mock_cloud.faults_client``). Rig faults are sent to the emulated rig
fixture by the runner (``hil.scenarios.runner``); timed to a byte or record they arrive
here as ``battery-low``.
"""

from __future__ import annotations

from typing import Any

from emulator.faults import (
    CorruptChecksum,
    CorruptE2ECrc,
    DelayInReport,
    DenyAccess,
    DisconnectAfterRecord,
    DropIndication,
    RejectPairing,
    StallEndpoint,
    UnplugAfterBytes,
)
from hil.scenarios.model import Fault
from hil.scenarios.placement import Placed
from mock_cloud.faults_client import (
    FaultSpec,
    drop_after_store,
    error,
    expire_session,
    latency,
    rate_limit,
)

UNLIMITED = 10_000
"""``times: null`` with ``at.request``: every matching request from the n-th on."""
USB_IN_ENDPOINT = 0x81


def arm_device_fault(placed: Placed, fault: Fault, kind: str) -> bool:
    """Apply ``fault`` to ``placed`` as ``kind`` (its own, or what a rig fault amounts to):
    at once (an unplug, going out of range) or into its fault plan. True when a plan entry
    was added: it must fire in the run (stalls are not logged by the plan)."""
    at, plan = fault.at, placed.faults
    usb = placed.usb
    before = len(plan.faults)
    if kind == "battery-low":
        kind = "unplug" if usb is not None else "disconnect"
    if usb is not None:
        if kind == "unplug":
            if at.after_bytes is None:
                usb.unplug()
            else:
                start = usb.device.bytes_transferred
                plan.add(UnplugAfterBytes(start + at.after_bytes))
        elif kind == "corrupt-checksum":
            plan.add(CorruptChecksum(fault.frame, fault.times))
        elif kind == "stall":
            plan.add(StallEndpoint(USB_IN_ENDPOINT, usb.device.transfers + fault.frame))
        elif kind == "deny-access":
            plan.add(DenyAccess())
        elif kind == "slow-report":
            plan.add(DelayInReport(fault.frame, fault.seconds))
        else:
            raise ValueError(f"{fault.kind} is a Bluetooth fault; {placed.spec.id} is USB")
        return len(plan.faults) > before and kind != "stall"
    ble = placed.ble_device()
    if kind == "disconnect":
        if at.after_record is None:
            ble.stop()
        else:
            plan.add(DisconnectAfterRecord(at.after_record, fault.times))
    elif kind == "drop-indication":
        plan.add(DropIndication(fault.which, fault.times))
    elif kind == "corrupt-e2e-crc":
        plan.add(CorruptE2ECrc(fault.record, fault.times))
    elif kind == "reject-pairing":
        plan.add(RejectPairing(fault.times))
    else:
        raise ValueError(f"{fault.kind} is a USB fault; {placed.spec.id} is Bluetooth")
    return len(plan.faults) > before


def cloud_fault_spec(fault: Fault) -> FaultSpec:
    """The mock cloud fault (``mock_cloud.faults_client``) a scenario cloud fault is."""
    nth = fault.at.request
    times = fault.times if fault.times is not None else (UNLIMITED if nth else None)
    match: dict[str, Any] = {"method": fault.method, "path": fault.path, "nth": nth}
    match["times"] = times
    if fault.kind == "cloud-error":
        return error(fault.status, **match)
    if fault.kind == "cloud-rate-limit":
        return rate_limit(fault.retry_after_s, **match)
    if fault.kind == "cloud-drop-after-store":
        return drop_after_store(**match)
    if fault.kind == "cloud-latency":
        return latency(fault.delay_ms, **match)
    return expire_session(**match)
