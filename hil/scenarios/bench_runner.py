"""Playing a scenario on a bench rig: rig.toml's devices, its CAN fixture and its cloud.

``hil.scenarios.bench_plan`` has mapped each scenario device to a rig.toml device of its
kind. Each is reached as the pytest plugin reaches it (``hil.targets.bench_device``): by its
URL through libusb, the uploader's USB/IP client or Bluetooth (the system's, or the Bumble
transport rig.toml names), the pairing code from rig.toml, the fixture's display reader or
an emulator's control URL. The uploader runs in real time (bench devices live in it).

Before each run its rig faults are ``rig.dbc`` commands sent through ``RigController`` on
rig.toml's ``[can]`` bus to the device's fixture ``port``, and its cloud faults go to the
cloud's fault API (``hil.scenarios.bench_cloud``); after the run the ports are put back
(data lines and VBUS on, the supply at ``faults.NOMINAL_VOLTS``, no attenuation) and the cloud's
faults cleared.

The cloud is judged against what the device can show: its ledger when it has one (an
emulator process's control URL, ``hil.oracle``); without one, ``exact`` checks were refused
by the plan, and ``subset`` checks that the cloud holds no reading twice. ``empty`` and
``unchanged`` need no ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from hil.bench_devices import BenchRig
from hil.cloud import Account, CloudInspector
from hil.devices import running_utc
from hil.harness import UploadHarness, quick_retries
from hil.oracle import compare_with_ledger, expected_smbg
from hil.report import note_comparison
from hil.rig.controller import RigController, RigError
from hil.scenarios.bench_cloud import BenchCloud, bench_cloud
from hil.scenarios.bench_plan import BenchPlan, plan_on_bench
from hil.scenarios.faults import cloud_fault_spec, command_rig, restore_rig
from hil.scenarios.judge import canonical, describe_expect, upload_and_judge, upload_options
from hil.scenarios.model import Fault, Run, Scenario
from hil.scenarios.verdict import RunReport, Verdict
from hil.targets import TargetDevice, bench_device
from mock_cloud.faults_client import AsyncFaultsClient, FaultApiError, FaultSpec
from uploader.errors import Step

"""The bench supply between runs: a charged Li-ion cell (as ``hil.scenarios.runner``)."""


def held_by_serial(
    inspector: CloudInspector, serial: str | None, account: Account, datum_type: str | None
) -> list[dict[str, Any]]:
    """The datums of the device with ``serial`` (by its data sets) the cloud holds."""
    uploads = {
        str(s.get("uploadId") or s.get("id"))
        for s in inspector.data_sets(account)
        if s.get("deviceSerialNumber") == serial
    }
    params = {"type": datum_type} if datum_type else {}
    return [d for d in inspector.data(account, **params) if d.get("uploadId") in uploads]


class BenchScenarioRunner:
    """Plays a playable ``BenchPlan``; ``run()`` returns the ``Verdict``."""

    def __init__(self, plan: BenchPlan, work: Path, cloud: BenchCloud) -> None:
        assert plan.playable, plan.reason()
        self.plan = plan
        self.scenario = plan.scenario
        self.work = work
        self.cloud = cloud
        self.notes: list[str] = [f"on bench rig {plan.rig.name!r} ({plan.rig.path})"]
        self.inspector = CloudInspector(cloud.base_url, cloud.transport())
        self.accounts = {
            name: cloud.create_account(name, f"{name}-scenario-pw")
            for name in self.scenario.accounts
        }
        self.devices: dict[str, TargetDevice] = {
            spec_id: bench_device(found, plan.rig.can) for spec_id, found in plan.devices.items()
        }
        self.rig: RigController | None = None
        if plan.rig.can is not None and any(
            f.kind.startswith("rig-") for f in plan.scenario.faults
        ):
            self.rig = RigController.open(plan.rig.can)
        self._rig_ports: set[int] = set()

    def close(self) -> None:
        if self.rig is not None:
            self.rig.close()

    # ---- faults --------------------------------------------------------------------------

    def _rig_fault(self, fault: Fault) -> None:
        assert self.rig is not None
        name = fault.device or self.scenario.devices[0].id
        found = self.plan.devices[name]
        port = found.port
        assert port is not None  # the plan refused the scenario otherwise
        self._rig_ports.add(port)
        self.notes.append(f"{fault.kind}: a rig.dbc command to the fixture (port {port})")
        command_rig(self.rig, port, fault)

    def _faults(self) -> AsyncFaultsClient:
        return AsyncFaultsClient(self.cloud.base_url, transport=self.cloud.transport())

    async def _set_cloud_faults(self, specs: list[FaultSpec]) -> None:
        async with self._faults() as client:
            await client.clear()
            for spec in specs:
                await client.add(spec)

    async def _unhit_cloud_faults(self) -> list[str]:
        async with self._faults() as client:
            faults = await client.faults()
            await client.clear()
        return [f"the cloud {f['kind']} fault never hit a request" for f in faults if not f["hits"]]

    def _restore(self, cloud_faults: bool) -> list[str]:
        problems = asyncio.run(self._unhit_cloud_faults()) if cloud_faults else []
        if self.rig is not None:
            restore_rig(self.rig, self._rig_ports)
        return problems

    # ---- runs ----------------------------------------------------------------------------

    def run(self) -> Verdict:
        reports = []
        for index, run in enumerate(self.scenario.runs, start=1):
            faults = [f for f in self.scenario.faults if f.at.run == index]
            cloud_specs = [cloud_fault_spec(f) for f in faults if f.kind.startswith("cloud-")]
            try:
                if cloud_specs:
                    asyncio.run(self._set_cloud_faults(cloud_specs))
                for fault in faults:
                    if fault.kind.startswith("rig-"):
                        self._rig_fault(fault)
            except (RigError, FaultApiError) as problem:
                reason = f"the scenario cannot be set up on the bench: {problem}"
                reports.append(RunReport(index, describe_expect(run), "", [reason]))
                with contextlib.suppress(RigError, FaultApiError):
                    self._restore(bool(cloud_specs))
                break
            report = self._one_run(index, run)
            report.differences.extend(self._restore(bool(cloud_specs)))
            reports.append(report)
        return Verdict(self.scenario.name, reports, list(dict.fromkeys(self.notes)))

    def _targets(self, run: Run) -> list[tuple[str, TargetDevice]]:
        kinds = {d.id: d.kind for d in self.scenario.devices}
        return [
            (spec_id, device)
            for spec_id, device in self.devices.items()
            if run.device is None
            or run.device == spec_id
            or (run.device == "usb" and kinds[spec_id] == "contour-usb")
            or (run.device == "ble" and kinds[spec_id] != "contour-usb")
        ]

    def _harness(self, run: Run, targets: list[TargetDevice]) -> UploadHarness:
        retry = quick_retries()
        if run.retries is not None:
            retry = replace(retry, attempts=run.retries)
        ble = next((d.ble_transport for d in targets if d.ble_transport is not None), None)
        return UploadHarness(
            cloud_url=self.cloud.base_url,
            account=self.accounts[run.account],
            timezone=run.timezone or self.scenario.timezone,
            state_path=self.work / f"{run.computer}-state.sqlite3",
            usb_backend=None,
            transport_factory=self.cloud.transport_factory,
            retry=retry,
            clock=running_utc(None),
            ble_transport=ble,
        )

    def _one_run(self, index: int, run: Run) -> RunReport:
        targets = self._targets(run)
        devices = [device for _, device in targets]
        harness = self._harness(run, devices)
        account = self.accounts[run.account]
        overrides = upload_options(run)
        if run.passkey is not None:
            overrides["passkey"] = _fixed(run.passkey)
        elif devices and devices[0].passkey is not None:
            overrides["passkey"] = devices[0].passkey
        snapshot = (
            {d.serial: canonical(held_by_serial(self.inspector, d.serial, account, None))
             for d in devices}
            if run.expect.cloud_check == "unchanged"
            else {}
        )  # fmt: skip
        if run.device in ("usb", "ble") and len(devices) != 1:
            spec = run.device
        else:
            spec = devices[0].device_spec if devices else "usb"
        report, failure = upload_and_judge(harness, spec, overrides, run, index)
        if failure is not None and failure.step is Step.LOGIN:
            return report  # no session: nothing sent (hil.scenarios.runner says why)
        for spec_id, device in targets:
            if device.serial in snapshot:
                now = canonical(held_by_serial(self.inspector, device.serial, account, None))
                if now != snapshot[device.serial]:
                    report.differences.append(
                        f"{spec_id}: the cloud changed, and the run should have left it as it was"
                    )
                continue
            report.differences.extend(self._check_cloud(spec_id, device, account, run))
        return report

    def _check_cloud(
        self, spec_id: str, device: TargetDevice, account: Account, run: Run
    ) -> list[str]:
        check = run.expect.cloud_check
        datum_type = {"cgm": "cbg", "ids-pump": None}.get(device.kind, "smbg")
        datums = held_by_serial(self.inspector, device.serial, account, datum_type)
        if check == "empty":
            return [f"{spec_id}: the cloud holds {len(datums)} datums, expected none"] * bool(
                datums
            )
        if device.ledger is None:
            twice = [k for k, n in Counter(_key(d) for d in datums).items() if n > 1]
            return [f"{spec_id}: the cloud holds readings twice: {twice[:5]}"] * bool(twice)
        timezone = run.timezone or self.scenario.timezone
        expected = expected_smbg(device.ledger(), timezone, out_of_range=device.out_of_range)
        comparison = compare_with_ledger(expected, datums)
        note_comparison(f"{spec_id} ({device.kind}, {device.name})", comparison, datums)
        if check == "exact" and not comparison.exact:
            return [f"{spec_id}: the cloud differs from the device's ledger: {comparison}"]
        if check == "subset" and (
            comparison.duplicated or comparison.unexpected or comparison.wrong
        ):
            return [f"{spec_id}: after the error the cloud holds what it must not: {comparison}"]
        return []


def _key(datum: dict[str, Any]) -> str:
    return f"{datum.get('deviceTime') or datum.get('time')} {datum.get('value')}"


def _fixed(code: int) -> Any:
    async def provide(_label: str) -> int:
        return code

    return provide


def run_on_bench(plan: BenchPlan, work: Path, cloud: BenchCloud) -> Verdict:
    """Play the playable ``plan`` on its bench and cloud; the verdict."""
    runner = BenchScenarioRunner(plan, work, cloud)
    try:
        return runner.run()
    finally:
        runner.close()


class ScenarioNotOnBench(Exception):
    """The bench cannot play the scenario; the message lists every reason."""


def play_on_bench(scenario: Scenario, rig: BenchRig, work: Path) -> Verdict:
    """Plan ``scenario`` on ``rig`` and play it (``ScenarioNotOnBench`` when it cannot)."""
    cloud = bench_cloud(rig)
    try:
        plan = plan_on_bench(scenario, rig, cloud.fault_api_missing())
        if not plan.playable:
            raise ScenarioNotOnBench(plan.reason())
        return run_on_bench(plan, work, cloud)
    finally:
        cloud.close()
