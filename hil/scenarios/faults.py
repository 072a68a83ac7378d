"""Scenario faults into the layers' own fault mechanisms.

Device and link faults become entries of the emulated device's ``emulator.faults.FaultPlan``
(or an immediate unplug / power-off); cloud faults become ``FaultSpec`` values for the mock
cloud's fault API (``mock_cloud.faults_client``). Rig faults become rig.dbc commands to the
fixture (``command_rig``, undone by ``restore_rig``); timed to a byte or record they arrive
here as ``battery-low`` (``hil.scenarios.runner``).
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
from hil.rig.controller import RigController
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

NOMINAL_VOLTS = 3.7
"""The bench supply standing in for a charged battery, after a ``rig-battery-volts`` run."""
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


def command_rig(rig: RigController, port: int, fault: Fault) -> None:
    """Send a ``rig-*`` ``fault`` to the fixture, for the device on ``port``."""
    if fault.kind == "rig-data-lines-off":
        rig.set_usb(port, data=False, vbus=True)
    elif fault.kind == "rig-vbus-off":
        rig.set_usb(port, data=False, vbus=False)
    elif fault.kind == "rig-battery-volts":
        assert fault.volts is not None
        rig.set_battery_voltage(port, fault.volts)
    else:
        assert fault.db is not None
        rig.set_attenuation(port, fault.db)


def restore_rig(rig: RigController, ports: set[int]) -> None:
    """Put every port in ``ports`` back (data lines and VBUS on, the supply at
    ``NOMINAL_VOLTS``, no attenuation) and empty ``ports``."""
    for port in sorted(ports):
        rig.set_usb(port, data=True, vbus=True)
        rig.set_battery_voltage(port, NOMINAL_VOLTS)
        rig.set_attenuation(port, 0.0)
    ports.clear()


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
