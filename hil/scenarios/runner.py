"""Running a scenario: build its world, apply its timeline, run the uploader, judge.

The world is the one every end-to-end test uses: emulated devices from ``hil.devices`` (a
Contour meter on an emulated USB bus reached through pyusb; GLS meters, CGMs and IDS pumps
on an in-process Bumble radio reached through bleak), a fresh in-process mock cloud in
test mode (``hil.cloud``) whose faults are set over its admin API
(``mock_cloud.faults_client``), and the real uploader (``hil.harness``). Before each run
the events and faults scheduled for it are applied; each fault lasts that run only
(devices are plugged back, brought back in range and their fault plans cleared after it).

Rig faults before a run are real rig commands: each device is wired to a port of the
emulated fixture (``hil.rig.emulated``: device ``n`` on port ``n``) and the scenario sends
``rig.dbc`` commands over a python-can ``virtual`` bus through ``RigController`` (USB data
lines and VBUS, the bench supply's voltage, BLE attenuation); the fixture applies them to
the emulators. A fixture cannot time a command to a byte of a transfer, so a rig fault
``at.after_bytes`` / ``at.after_record`` (a battery dying mid-read) is applied through the
device's own fault plan at that point instead (the verdict notes it). After each run the rig
puts every port back: data lines and VBUS on, the supply at ``faults.NOMINAL_VOLTS``, no
attenuation.

After each run the outcome is compared with the run's ``expect`` and the cloud with the
device's ledger (``hil.oracle``, ``hil.pump_oracle``): every reading the device has held is
in the cloud once (readings a wrapped memory dropped stay expected), or, after an error,
nothing is duplicated, invented or changed. ``Verdict`` lists every difference.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from emulator.usb import EmulatedUsbBackend
from hil.bench_devices import BenchRig
from hil.ble import BleWorld
from hil.cloud import CloudInspector, InProcessCloud
from hil.devices import running_utc
from hil.harness import UploadHarness, quick_retries
from hil.rig.controller import RigController
from hil.rig.emulated import (
    BlePeripheralTarget,
    EmulatedRig,
    PortTarget,
    UsbDeviceTarget,
    virtual_rig,
)
from hil.scenarios.bench_runner import play_on_bench
from hil.scenarios.events import apply_event
from hil.scenarios.faults import arm_device_fault, cloud_fault_spec, command_rig, restore_rig
from hil.scenarios.judge import canonical, check_cloud, held, upload_and_judge, upload_options
from hil.scenarios.model import Fault, Run, Scenario
from hil.scenarios.placement import Placed, place_device
from hil.scenarios.verdict import RunReport, Verdict
from mock_cloud.faults_client import AsyncFaultsClient, FaultSpec
from uploader.errors import Step

"""The bench supply between runs: a charged Li-ion cell (``emulator.model.battery``)."""


class ScenarioRunner:
    """Builds one scenario's world; ``run()`` plays it and returns the ``Verdict``."""

    def __init__(self, scenario: Scenario, work: Path) -> None:
        self.scenario = scenario
        self.work = work
        self.notes: list[str] = []
        self.cloud = InProcessCloud()
        self.inspector = CloudInspector(self.cloud.base_url, self.cloud.transport())
        self.accounts = {
            name: self.cloud.create_account(f"{name}@scenario.invalid", f"{name}-scenario-pw")
            for name in scenario.accounts
        }
        self.bus = EmulatedUsbBackend()
        needs_ble = any(d.kind != "contour-usb" for d in scenario.devices)
        self.world = BleWorld(timeout_s=60.0) if needs_ble else None
        self.devices = {
            d.id: place_device(d, index, scenario, self.bus, self.world)
            for index, d in enumerate(scenario.devices, start=1)
        }
        self.uploader_clock = running_utc(scenario.now)
        self.ports = {device_id: port for port, device_id in enumerate(self.devices, start=1)}
        self.fixture: EmulatedRig | None = None
        self.rig: RigController | None = None
        if any(f.kind.startswith("rig-") for f in scenario.faults):
            self.fixture, self.rig = virtual_rig(
                {self.ports[i]: self._port_target(p) for i, p in self.devices.items()}
            )
        self._armed: list[tuple[Placed, str]] = []
        self._rig_ports: set[int] = set()
        """Device faults put in a fault plan for the current run (each must fire)."""

    # ---- building ------------------------------------------------------------------------

    def _port_target(self, placed: Placed) -> PortTarget:
        if placed.usb is not None:
            return UsbDeviceTarget(self.bus, placed.usb.device, placed.usb.model)
        return BlePeripheralTarget(self._world(), placed.ble_device().peripheral)

    def _world(self) -> BleWorld:
        assert self.world is not None
        return self.world

    def close(self) -> None:
        if self.rig is not None and self.fixture is not None:
            self.rig.close()
            self.fixture.close()
        if self.world is not None:
            self.world.close()
        self.cloud.close()

    # ---- the timeline ----------------------------------------------------------------------

    def _device(self, name: str | None) -> Placed:
        if name is not None:
            return self.devices[name]
        return next(iter(self.devices.values()))

    def _device_fault(self, placed: Placed, fault: Fault) -> None:
        kind: str = fault.kind
        if kind.startswith("rig-"):
            kind = self._rig_equivalent(placed, fault)
            if kind == "":
                return
        if arm_device_fault(placed, fault, kind):
            self._armed.append((placed, fault.kind))

    def _rig_equivalent(self, placed: Placed, fault: Fault) -> str:
        """A rig fault: a command to the fixture before the run (returns ""), or, timed to
        a byte or record of the transfer, the device fault it amounts to."""
        kind, at = fault.kind, fault.at
        if kind == "rig-data-lines-off" and placed.usb is None:
            raise ValueError(f"{kind}: {placed.spec.id} is not a USB device")
        if kind == "rig-ble-attenuation" and placed.usb is not None:
            raise ValueError(f"{kind}: {placed.spec.id} is not a Bluetooth device")
        if at.after_bytes is not None or at.after_record is not None:
            self.notes.append(
                f"{kind} at a byte or record of the transfer: applied through the device's "
                "fault plan (a fixture cannot time a command to a byte)"
            )
            return "battery-low"
        assert self.rig is not None
        port = self.ports[placed.spec.id]
        self._rig_ports.add(port)
        self.notes.append(f"{kind}: a rig.dbc command to the emulated fixture (port {port})")
        command_rig(self.rig, port, fault)
        return ""

    async def _cloud_fault_hits(self) -> list[tuple[str, int]]:
        async with AsyncFaultsClient(
            self.cloud.base_url, transport=self.cloud.transport()
        ) as client:
            return [(str(f["kind"]), int(f["hits"])) for f in await client.faults()]

    async def _set_cloud_faults(self, specs: list[FaultSpec]) -> None:
        async with AsyncFaultsClient(
            self.cloud.base_url, transport=self.cloud.transport()
        ) as client:
            await client.clear()
            for spec in specs:
                await client.add(spec)

    def _restore(self) -> None:
        """After a run: every fault was for that run only."""
        specs: list[FaultSpec] = []
        asyncio.run(self._set_cloud_faults(specs))
        if self.rig is not None:
            restore_rig(self.rig, self._rig_ports)
        for placed in self.devices.values():
            placed.faults.clear()
            if placed.usb is not None:
                if not placed.usb.device.connected or placed.usb.device not in self.bus.devices:
                    placed.usb.unplug()
                    placed.usb.plug()
            elif placed.ble is not None and not placed.ble.peripheral.running:
                placed.ble.start()

    # ---- runs ----------------------------------------------------------------------------

    def run(self) -> Verdict:
        reports = []
        for index, run in enumerate(self.scenario.runs, start=1):
            try:
                for event in self.scenario.events:
                    if event.at.run == index:
                        apply_event(self._device(event.device), event, self.scenario.now)
                cloud_specs = []
                for fault in self.scenario.faults:
                    if fault.at.run != index:
                        continue
                    if fault.kind.startswith("cloud-"):
                        cloud_specs.append(cloud_fault_spec(fault))
                    else:
                        self._device_fault(self._device(fault.device), fault)
                if cloud_specs:
                    asyncio.run(self._set_cloud_faults(cloud_specs))
            except ValueError as problem:
                reports.append(
                    RunReport(index, "", "", [f"the scenario cannot be set up: {problem}"])
                )
                break
            report = self._one_run(index, run)
            report.differences.extend(self._unfired())
            reports.append(report)
            self._restore()
        return Verdict(self.scenario.name, reports, list(dict.fromkeys(self.notes)))

    def _unfired(self) -> list[str]:
        """A scheduled fault that never fired makes the scenario meaningless: say so."""
        problems = [
            f"the {kind} fault on {placed.spec.id} never fired (the run never got there)"
            for placed, kind in self._armed
            if not placed.faults.fired
        ]
        self._armed.clear()
        for kind, hits in asyncio.run(self._cloud_fault_hits()):
            if hits == 0:
                problems.append(f"the cloud {kind} fault never hit a request")
        return problems

    def _harness(self, run: Run) -> UploadHarness:
        retry = quick_retries()
        if run.retries is not None:
            retry = replace(retry, attempts=run.retries)
        return UploadHarness(
            cloud_url=self.cloud.base_url,
            account=self.accounts[run.account],
            timezone=run.timezone or self.scenario.timezone,
            state_path=self.work / f"{run.computer}-state.sqlite3",
            usb_backend=self.bus,
            transport_factory=self.cloud.transport,
            retry=retry,
            clock=self.uploader_clock,
            ble_transport=self.world.host_endpoint() if self.world else None,
            runner=self.world.run if self.world else None,
            ble_scan_timeout_s=1.0,
        )

    def _targets(self, run: Run) -> list[Placed]:
        if run.device in self.devices:
            return [self.devices[run.device]]
        wanted = "contour-usb" if run.device == "usb" else None
        return [
            p
            for p in self.devices.values()
            if run.device is None
            or (wanted is not None and p.spec.kind == wanted)
            or (run.device == "ble" and p.spec.kind != "contour-usb")
        ]

    def _one_run(self, index: int, run: Run) -> RunReport:
        harness = self._harness(run)
        targets = self._targets(run)
        overrides = upload_options(run)
        account = self.accounts[run.account]
        snapshot = (
            {p.spec.id: canonical(held(self.inspector, p, account, None)) for p in targets}
            if run.expect.cloud_check == "unchanged"
            else {}
        )
        first = targets[0] if targets else None
        if first is not None and first.ble is not None:
            code = run.passkey
            overrides["passkey"] = first.ble.read_display if code is None else _fixed(code)
        spec = run.device if run.device in ("usb", "ble") or first is None else first.device_spec
        report, failure = upload_and_judge(harness, spec or "usb", overrides, run, index)
        if failure is not None and failure.step is Step.LOGIN:
            self.notes.append(
                "the cloud is not inspected after a login failure: the uploader had no "
                "session to send anything with, and the inspector's own login would reset "
                "the account's failed-login count"
            )
            return report
        for placed in targets:
            if placed.spec.id in snapshot:
                now_held = canonical(held(self.inspector, placed, account, None))
                if now_held != snapshot[placed.spec.id]:
                    report.differences.append(
                        f"{placed.spec.id}: the cloud changed, and the run should have left "
                        "it as it was"
                    )
                continue
            report.differences.extend(
                check_cloud(
                    self.inspector,
                    placed,
                    account,
                    run,
                    run.timezone or self.scenario.timezone,
                    success=failure is None,
                )
            )
        return report


def _fixed(code: int) -> Any:
    async def provide(_label: str) -> int:
        return code

    return provide


def run_scenario(
    scenario: Scenario, work: Path | None = None, rig: BenchRig | None = None
) -> Verdict:
    """Build ``scenario``'s world, play every run and return the verdict. With ``rig``, play
    it on that bench instead (``hil.scenarios.bench_runner``; ``ScenarioNotOnBench`` when
    the bench cannot)."""
    with tempfile.TemporaryDirectory(prefix="diahil-scenario-") as temporary:
        if rig is not None:
            return play_on_bench(scenario, rig, work or Path(temporary))
        runner = ScenarioRunner(scenario, work or Path(temporary))
        try:
            return runner.run()
        finally:
            runner.close()
