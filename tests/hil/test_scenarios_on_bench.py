"""The scenario library on ``--hil-target=bench``: the scenarios a bench can play run on
rig.toml's devices (here emulator processes reached over their real transports: USB/IP and
a Bumble TCP HCI transport), the others are skipped with every reason; rig faults are real
``rig.dbc`` commands through ``RigController``; a cloud without the fault API is noticed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import can as python_can
import pytest

from hil.bench_devices import BenchDevice, BenchRig
from hil.cloud import CloudServer
from hil.processes import EmulatorProcess
from hil.pytest_plugin import DEFAULT_TIMEZONE
from hil.rig.config import CanConfig
from hil.rig.emulated import EmulatedRig, PortTarget
from hil.scenarios import load_scenario
from hil.scenarios.bench_cloud import BenchCloud
from hil.scenarios.bench_plan import plan_on_bench
from hil.scenarios.bench_runner import BenchScenarioRunner
from hil.scenarios.model import Fault
from hil.usbip import UsbipEmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_TEST = ROOT / "tests" / "hil" / "test_scenario_library.py"
LIBRARY = ROOT / "scenarios"

PLAYED = [
    "device-linked-to-sibling",
    "gls-wrong-passkey",
    "locked-account",
    "timezone-changed-between-uploads",
]
SKIPPED = {
    "usb-port-without-power": "rig faults (rig-vbus-off) need a CAN fixture*has no [[]can[]]*",
    "charge-only-cable": "device meter must hold a generated history or identity (seed)*",
    "bad-frame-recovered": "device faults (corrupt-checksum) are injected inside an emulator*",
    "meter-clock-reset": "events (clock-reset, measure) happen inside an emulator's model*",
    "two-meters-plugged-in": "it needs 2 contour-usb device(s)*has 1: add [[]devices.NAME[]]*",
    "cgm-backfill": "it needs 1 cgm device(s)*has 0*",
}


@pytest.fixture(scope="module")
def ble_meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "11", "--days", "3")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def usbip_meter() -> Iterator[UsbipEmulatorProcess]:
    process = UsbipEmulatorProcess("--seed", "12", "--days", "3", "--timezone", DEFAULT_TIMEZONE)
    yield process
    process.stop()


def test_the_library_plays_on_a_bench_and_skips_what_it_cannot(
    pytester: pytest.Pytester, ble_meter: EmulatorProcess, usbip_meter: UsbipEmulatorProcess
) -> None:
    rig = pytester.path / "rig.toml"
    rig.write_text(
        f'name = "bench-s"\n'
        f'[devices.ble-meter]\nkind = "gls-meter"\nurl = "{ble_meter.device_spec}"\n'
        f'serial = "{ble_meter.info["serial"]}"\nble_transport = "{ble_meter.hci_client}"\n'
        f'control = "{ble_meter.info["control"]}"\n'
        f'[devices.usb-meter]\nkind = "contour-usb"\nurl = "{usbip_meter.device_spec}"\n'
        f'serial = "{usbip_meter.info["serial_number"]}"\n'
        f'control = "{usbip_meter.info["control"]}"\n',
        encoding="utf-8",
    )
    nodes = [f"{LIBRARY_TEST}::test_scenario_passes[{name}]" for name in [*PLAYED, *SKIPPED]]
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-rs", "--hil-target=bench", f"--hil-rig={rig}",
        f"--hil-lock-dir={pytester.path / 'locks'}", *nodes,
    )  # fmt: skip
    result.assert_outcomes(passed=len(PLAYED), skipped=len(SKIPPED))
    result.stdout.fnmatch_lines_random(
        [f"SKIPPED*: {name}.yaml: {reason}" for name, reason in SKIPPED.items()]
    )


def _rig(tmp_path: Path, *devices: BenchDevice, can: CanConfig | None = None) -> BenchRig:
    return BenchRig(path=tmp_path / "rig.toml", name="bench-u", devices=list(devices), can=can)


CONTROL = "http://127.0.0.1:9"  # never contacted: planning reads rig.toml only
METER = BenchDevice(name="meter", kind="contour-usb", url="usb", serial="S-1", control=CONTROL)
REAL_METER = BenchDevice(name="meter", kind="contour-usb", url="usb", serial="S-1")


def test_a_rig_fault_needs_the_devices_fixture_port(tmp_path: Path) -> None:
    scenario = load_scenario(LIBRARY / "usb-port-without-power.yaml")
    can = CanConfig(interface="virtual", channel="unused")
    plan = plan_on_bench(scenario, _rig(tmp_path, METER, can=can))
    assert plan.skips == [
        "rig-vbus-off on meter: rig.toml gives devices.meter no port (the fixture port it is "
        "wired to)"
    ]
    wired = BenchDevice("meter", "contour-usb", "usb", "S-1", control=CONTROL, port=2)
    assert plan_on_bench(scenario, _rig(tmp_path, wired, can=can)).playable


def test_an_exact_check_on_a_device_without_a_ledger_is_refused(tmp_path: Path) -> None:
    scenario = load_scenario(LIBRARY / "device-linked-to-sibling.yaml")
    plan = plan_on_bench(scenario, _rig(tmp_path, REAL_METER))
    assert len(plan.skips) == 1 and "meter's ledger and it cannot show one" in plan.skips[0]
    assert plan_on_bench(scenario, _rig(tmp_path, METER)).playable
    locked = load_scenario(LIBRARY / "locked-account.yaml")  # every check: cloud empty
    assert plan_on_bench(locked, _rig(tmp_path, REAL_METER)).playable


def test_rig_faults_are_rig_dbc_commands_to_the_fixture(tmp_path: Path) -> None:
    channel = f"bench-scenario-{uuid.uuid4().hex[:8]}"
    can = CanConfig(interface="virtual", channel=channel)
    port = PortTarget()
    fixture = EmulatedRig(python_can.Bus(interface="virtual", channel=channel), {3: port})
    wired = BenchDevice("meter", "contour-usb", "usb", "S-1", control=CONTROL, port=3)
    plan = plan_on_bench(
        load_scenario(LIBRARY / "usb-port-without-power.yaml"), _rig(tmp_path, wired, can=can)
    )
    cloud = BenchCloud()
    runner = BenchScenarioRunner(plan, tmp_path, cloud)
    try:
        runner._rig_fault(Fault(kind="rig-vbus-off"))
        assert (port.vbus, port.data_lines) == (False, False)
        runner._rig_fault(Fault(kind="rig-battery-volts", volts=3.03))
        assert port.voltage == pytest.approx(3.03, abs=0.01)
        runner._restore(cloud_faults=False)
        assert (port.vbus, port.data_lines) == (True, True)
        assert port.voltage == pytest.approx(3.7, abs=0.01)
    finally:
        runner.close()
        fixture.close()
        cloud.close()


def test_cloud_faults_need_the_clouds_fault_api(tmp_path: Path) -> None:
    scenario = load_scenario(LIBRARY / "token-expiry.yaml")
    with CloudServer(f"sqlite:///{tmp_path / 'cloud.db'}", test_mode=False) as server:
        missing = BenchCloud(server.base_url).fault_api_missing()
    assert missing is not None and "GET /admin/faults answered 404" in missing
    plan = plan_on_bench(scenario, _rig(tmp_path, METER), missing)
    assert any("cloud faults (cloud-expire-session) need a fault API" in s for s in plan.skips)
    with CloudServer(f"sqlite:///{tmp_path / 'test.db'}", test_mode=True) as server:
        cloud = BenchCloud(server.base_url)
        assert cloud.fault_api_missing() is None
        account = cloud.create_account("owner", "owner-scenario-pw")
        assert account.user_id and account.email.startswith("owner-")
