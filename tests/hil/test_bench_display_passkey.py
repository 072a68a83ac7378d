"""On a bench with a CAN fixture, a Bluetooth device's pairing code is read off its display.

The bench's device is an emulated GLS meter in its own process, reached over a Bumble TCP
HCI transport as rig.toml says; its fixture port is wired to an emulated rig fixture on a
python-can ``virtual`` bus, whose display reader reads what the meter shows. rig.toml gives
no ``passkey``: the plugin's provider reads the display over CAN at pairing time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from hil.processes import EmulatorProcess
from hil.rig.control_target import ControlDisplayTarget
from hil.rig.controller import RigController
from hil.rig.dbc import FaultCode
from hil.rig.display_passkey import fixture_display
from hil.rig.emulated import EmulatedRig, PortTarget
from uploader.errors import PairingFailed
from uploader.pairing import PasskeyProvider

PORT = 3

UPLOAD_MATCHES_LEDGER = """
import pytest


@pytest.mark.device("gls-meter")
@pytest.mark.rig("display")
def test_pairs_with_the_code_on_the_display(hil_uploader, hil_ledger_check):
    result = hil_uploader.upload()
    assert result.status == "uploaded" and result.new_datums > 0
    assert hil_ledger_check().assert_exact() == result.new_datums
"""

DISPLAY_UNREADABLE = """
import pytest

from uploader.errors import PairingFailed


@pytest.mark.device("gls-meter")
def test_an_unreadable_display_fails_pairing(hil_uploader):
    with pytest.raises(PairingFailed) as failed:
        hil_uploader.upload()
    print("ERROR:", failed.value.user_message())
    assert failed.value.step is not None
"""


@pytest.fixture
def ble_meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "11", "--days", "5")
    yield process
    process.stop()


@pytest.fixture
def fixture_channel(
    ble_meter: EmulatorProcess,
) -> Iterator[tuple[str, EmulatedRig, ControlDisplayTarget]]:
    channel = f"diahil-bench-{uuid.uuid4().hex[:12]}"
    target = ControlDisplayTarget(ble_meter.info["control"])
    rig = EmulatedRig(can.Bus(interface="virtual", channel=channel), {PORT: target})
    yield channel, rig, target
    rig.close()


def write_rig(path: Path, channel: str, meter: EmulatorProcess) -> Path:
    path.write_text(
        f'name = "bench-d"\n[can]\ninterface = "virtual"\nchannel = "{channel}"\n'
        f'[devices.ble-meter]\nkind = "gls-meter"\nurl = "{meter.device_spec}"\n'
        f'serial = "{meter.info["serial"]}"\nble_transport = "{meter.hci_client}"\n'
        f'port = {PORT}\ncontrol = "{meter.info["control"]}"\n',
        encoding="utf-8",
    )
    return path


def run_bench(pytester: pytest.Pytester, rig: Path) -> pytest.RunResult:
    return pytester.runpytest(
        "-p", "no:cacheprovider", "-s", "--hil-target=bench", f"--hil-rig={rig}",
        f"--hil-lock-dir={pytester.path / 'locks'}",
    )  # fmt: skip


def test_the_passkey_is_read_over_can_and_the_cloud_equals_the_ledger(
    pytester: pytest.Pytester,
    ble_meter: EmulatorProcess,
    fixture_channel: tuple[str, EmulatedRig, ControlDisplayTarget],
) -> None:
    channel, _rig, display = fixture_channel
    pytester.makepyfile(UPLOAD_MATCHES_LEDGER)
    result = run_bench(pytester, write_rig(pytester.path / "rig.toml", channel, ble_meter))
    result.assert_outcomes(passed=1)
    codes = [shown for shown in display.reads if shown is not None]
    assert len(codes) == 1 and len(codes[0]) == 6 and codes[0].isdigit()


def test_a_display_the_fixture_cannot_read_fails_pairing_with_what_to_do(
    pytester: pytest.Pytester,
    ble_meter: EmulatorProcess,
    fixture_channel: tuple[str, EmulatedRig, ControlDisplayTarget],
) -> None:
    channel, rig, display = fixture_channel
    rig.inject_fault(FaultCode.DISPLAY_READER, PORT)
    pytester.makepyfile(DISPLAY_UNREADABLE)
    result = run_bench(pytester, write_rig(pytester.path / "rig.toml", channel, ble_meter))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR: [[]connect[]] The rig fixture could not read the pairing code off "
            "ble-meter's display*display_reader*Nothing was uploaded*"
            "Check the fixture's display reader on port 3*"
            "set `passkey = NNNNNN` under [[]devices.ble-meter[]] in rig.toml."
        ]
    )
    assert display.reads == []  # the fixture never got to the screen


async def read_code(provide: PasskeyProvider) -> int:
    return await provide("the meter")


def test_no_fixture_on_the_bus_fails_pairing_saying_what_to_check() -> None:
    channel = f"diahil-bench-{uuid.uuid4().hex[:12]}"  # nothing answers on it

    def controller() -> RigController:
        return RigController(can.Bus(interface="virtual", channel=channel), owns_bus=True)

    provide = fixture_display(controller, PORT, "ble-meter")
    with pytest.raises(PairingFailed) as failed:
        asyncio.run(read_code(provide))
    message = failed.value.user_message()
    assert "read display port 3: the fixture did not acknowledge" in message
    assert "set `passkey = NNNNNN` under [devices.ble-meter] in rig.toml" in message


def test_a_blank_display_fails_pairing_after_the_wait() -> None:
    channel = f"diahil-bench-{uuid.uuid4().hex[:12]}"
    blank = PortTarget()  # wired, but the screen stays blank
    with EmulatedRig(can.Bus(interface="virtual", channel=channel), {PORT: blank}):
        provide = fixture_display(
            lambda: RigController(can.Bus(interface="virtual", channel=channel), owns_bus=True),
            PORT,
            "ble-meter",
            wait_s=0.2,
        )
        with pytest.raises(PairingFailed) as failed:
            asyncio.run(read_code(provide))
    assert "ble-meter's display (fixture port 3) showed no pairing code within 0.2 s" in (
        failed.value.message
    )
    assert failed.value.hint.startswith("Put the device in pairing mode and run again.")
