"""``diahil rig check``: every item of a rig.toml present, or each missing one named with what
to do; against the emulated fixture on python-can's virtual bus, emulated devices and a mock
cloud, through the same probes (pyusb, the uploader's Bluetooth scan, HTTP) a bench uses."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import can
import pytest
from typer.testing import CliRunner

from emulator.ble import GlsMeter
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.cli import build_app
from hil.cloud import CloudServer
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter
from hil.rig.check import BleScan, Probes, check_rig
from hil.rig.config import parse_rig
from hil.rig.controller import RigController
from hil.rig.emulated import EmulatedRig, PortTarget, UsbDeviceTarget
from uploader.transports.ble import BleStack, scan

runner = CliRunner()


def world_scan(world: BleWorld) -> BleScan:
    """The uploader's own scan, on the test's radio."""
    endpoint = world.host_endpoint()

    def run(seconds: float) -> set[str]:
        async def scan_once() -> set[str]:
            stack = BleStack.open(endpoint, None)
            try:
                return {a.address.upper() for a in await scan(stack, seconds)}
            finally:
                await stack.close()

        return world.run(scan_once())

    return run


@pytest.fixture
def channel() -> str:
    return f"rig-check-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fixture_on(channel: str) -> Iterator[EmulatedRig]:
    rig = EmulatedRig(can.Bus(interface="virtual", channel=channel))
    yield rig
    rig.close()


def rig_toml(channel: str, cloud_url: str, devices: str = "") -> str:
    return f"""
name = "bench-test"

[can]
interface = "virtual"
channel = "{channel}"

[cloud]
url = "{cloud_url}"
{devices}
"""


def devices_toml(meter: EmulatedUsbMeter, gls: EmulatedBleDevice[Any]) -> str:
    return f"""
[devices.meter]
kind = "contour-usb"
url = "{meter.device_spec}"
serial = "{meter.model.serial_number}"
port = 1

[devices.gls]
kind = "gls-meter"
url = "{gls.device_spec}"
serial = "{gls.peripheral.serial_number}"
port = 2
"""


def test_every_item_present_then_each_missing_one_named(
    channel: str,
    fixture_on: EmulatedRig,
    contour_meter: EmulatedUsbMeter,
    usb_bus: EmulatedUsbBackend,
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_world: BleWorld,
    mock_cloud_server: CloudServer,
) -> None:
    fixture_on.wire(1, UsbDeviceTarget(usb_bus, contour_meter.device, contour_meter.model))
    fixture_on.wire(2, PortTarget())
    config = parse_rig(
        rig_toml(channel, mock_cloud_server.base_url, devices_toml(contour_meter, gls_meter))
    )
    probes = Probes(usb_backend=usb_bus, ble_scan=world_scan(ble_world))

    report = check_rig(config, probes, scan_seconds=1.0)
    assert report.ok, report.render()
    assert [item.what.split(" (")[0] for item in report.items] == [
        "CAN fixture",
        "device meter",
        "device gls",
        "cloud",
    ]
    assert "All 4 items present." in report.render()
    assert "port 1: supply on" in report.items[1].detail

    with RigController(can.Bus(interface="virtual", channel=channel), owns_bus=True) as rig:
        rig.set_usb(1, data=False, vbus=True)  # a charge-only cable on the meter's port
    gls_meter.stop()  # the Bluetooth meter switched off
    report = check_rig(config, probes, scan_seconds=0.5)
    missing = {item.what.split(" (")[0]: item.detail for item in report.missing}
    assert set(missing) == {"device meter", "device gls"}
    assert "not on USB (serial 7390-2336773" in missing["device meter"]
    assert "fixture port 1" in missing["device meter"]
    assert "data lines OFF, VBUS on" in missing["device meter"]
    assert "not advertising within 0.5 s" in missing["device gls"]
    assert "2 of 4 missing: device meter" in report.render()


def test_the_command_line_passes_then_names_the_can_fixture_and_cloud_down(
    channel: str,
    fixture_on: EmulatedRig,
    mock_cloud_server: CloudServer,
    tmp_path: Path,
) -> None:
    app = build_app()
    rig_file = tmp_path / "rig.toml"
    rig_file.write_text(rig_toml(channel, mock_cloud_server.base_url))
    result = runner.invoke(app, ["rig", "check", str(rig_file)])
    assert result.exit_code == 0, result.output
    assert "ok      CAN fixture (virtual:" in result.output
    assert "All 2 items present." in result.output

    fixture_on.close()  # the fixture loses power
    rig_file.write_text(rig_toml(channel, "http://127.0.0.1:9"))  # nothing listens there
    result = runner.invoke(app, ["rig", "check", str(rig_file)])
    assert result.exit_code == 3, result.output
    assert "MISSING CAN fixture (virtual:" in result.output
    assert "no heartbeat from the rig fixture" in result.output
    assert "MISSING cloud (http://127.0.0.1:9): does not answer" in result.output


def test_a_bad_rig_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    rig_file = tmp_path / "rig.toml"
    rig_file.write_text('[can]\ninterface = "virtual"\nchannell = "x"\n')
    result = runner.invoke(build_app(), ["rig", "check", str(rig_file)])
    assert result.exit_code == 2
    assert "can.channell: unknown key" in result.output


def test_rig_check_reaches_a_fixture_in_another_process_over_udp_multicast(
    tmp_path: Path,
) -> None:
    port = 20000 + uuid.uuid4().int % 20000  # this test's own, so parallel runs never cross
    command = [sys.executable, "-m", "hil.rig.cli", "emulate", "--channel", "239.74.163.2"]
    fixture = subprocess.Popen(
        [*command, "--can-port", str(port), "--ports", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fixture.stdout is not None
        assert "rig fixture ready on udp_multicast:239.74.163.2" in fixture.stdout.readline()
        rig_file = tmp_path / "rig.toml"
        rig_file.write_text(
            '[can]\ninterface = "udp_multicast"\nchannel = "239.74.163.2"\n'
            f"options = {{ port = {port} }}\nheartbeat_timeout_s = 2.0\n"
        )
        result = runner.invoke(build_app(), ["rig", "check", str(rig_file)])
        assert result.exit_code == 0, result.output
        assert "heartbeat ok, 4 ports" in result.output
    finally:
        fixture.send_signal(signal.SIGINT)
        fixture.wait(timeout=10)
