"""The same test, unchanged, on --hil-target=emulated and on a bench described by rig.toml.

The bench's "device" here is an emulator process reached over its real transport (Bluetooth
LE over a Bumble TCP HCI transport, USB over the uploader's USB/IP client), as a real meter
on a bench is reached over the system's Bluetooth or libusb: the plugin only knows what
rig.toml says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.processes import EmulatorProcess
from hil.pytest_plugin import DEFAULT_TIMEZONE
from hil.usbip import UsbipEmulatorProcess

BOTH_TARGETS = """
import pytest


@pytest.mark.device("gls-meter")
def test_meter_upload_matches_its_ledger(hil_target, hil_device, hil_uploader, hil_ledger_check):
    assert hil_device.target == hil_target
    assert (hil_device.emulator is not None) == (hil_target == "emulated")
    result = hil_uploader.upload()
    assert result.new_datums > 0
    assert hil_ledger_check().assert_exact() == result.new_datums


@pytest.mark.device("contour-usb", days=5)
def test_usb_meter(hil_device, hil_uploader, hil_ledger_check):
    hil_uploader.upload()
    hil_ledger_check().assert_exact()


@pytest.mark.rig("vbus")
def test_needs_a_vbus_switch(hil_target):
    assert hil_target in ("emulated", "bench")
"""


@pytest.fixture(scope="module")
def ble_meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "7", "--days", "10")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def usbip_meter() -> Iterator[UsbipEmulatorProcess]:
    process = UsbipEmulatorProcess("--seed", "8", "--days", "5", "--timezone", DEFAULT_TIMEZONE)
    yield process
    process.stop()


def write_rig(path: Path, *devices: str, can: bool = False) -> Path:
    lines = ['name = "bench-t"']
    if can:
        lines += ["[can]", 'interface = "virtual"', 'channel = "rig-t"']
    path.write_text("\n".join([*lines, *devices]) + "\n", encoding="utf-8")
    return path


def ble_device(meter: EmulatorProcess) -> str:
    return (
        f'[devices.ble-meter]\nkind = "gls-meter"\nurl = "{meter.device_spec}"\n'
        f'serial = "{meter.info["serial"]}"\nble_transport = "{meter.hci_client}"\n'
        f'control = "{meter.info["control"]}"'
    )


def usbip_device(meter: UsbipEmulatorProcess) -> str:
    return (
        f'[devices.usb-meter]\nkind = "contour-usb"\nurl = "{meter.device_spec}"\n'
        f'serial = "{meter.info["serial_number"]}"\ncontrol = "{meter.info["control"]}"'
    )


REAL_GLS = '[devices.meter]\nkind = "gls-meter"\nurl = "ble:F0:F0:F0:F0:F0:09"\nserial = "GLS-09"'


def test_emulated_target_resolves_every_kind_to_an_emulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BOTH_TARGETS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_bench_target_runs_the_same_test_on_the_rigs_devices(
    pytester: pytest.Pytester, ble_meter: EmulatorProcess, usbip_meter: UsbipEmulatorProcess
) -> None:
    pytester.makepyfile(BOTH_TARGETS)
    rig = write_rig(pytester.path / "rig.toml", ble_device(ble_meter), usbip_device(usbip_meter))
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-rs", "--hil-target=bench", f"--hil-rig={rig}",
        f"--hil-lock-dir={pytester.path / 'locks'}",
    )  # fmt: skip
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*bench rig 'bench-t'*lacks vbus (VBUS switched per USB port)*"
            "no [[]can[]] fixture*"
        ]
    )


def test_what_the_bench_lacks_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BOTH_TARGETS)
    rig = write_rig(pytester.path / "rig.toml", REAL_GLS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-rs", "--hil-target=bench", f"--hil-rig={rig}",
        f"--hil-lock-dir={pytester.path / 'locks'}",
    )  # fmt: skip
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*meter (ble:F0:F0:F0:F0:F0:09) cannot show its ledger*",
            "SKIPPED*bench rig 'bench-t'*has no contour-usb device (a Contour USB glucose "
            'meter): add [[]devices.NAME[]] with kind = "contour-usb", its url and serial',
            "SKIPPED*bench rig 'bench-t'*lacks vbus*",
        ]
    )


def test_a_rig_with_a_can_fixture_has_the_capabilities(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rig("vbus", "usb-data", "display")
        def test_switches(hil_rig):
            assert {"vbus", "usb-data", "display"} <= hil_rig.capabilities
        """
    )
    rig = write_rig(pytester.path / "rig.toml", can=True)
    result = pytester.runpytest("-p", "no:cacheprovider", "--hil-target=bench", f"--hil-rig={rig}")
    result.assert_outcomes(passed=1)


def test_a_real_bluetooth_device_is_reached_as_rig_toml_says(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.device("gls-meter")
        def test_identity(hil_device, hil_uploader):
            assert hil_device.device_spec == "ble:F0:F0:F0:F0:F0:09"
            assert hil_device.serial == "GLS-09" and hil_device.emulator is None
            assert hil_uploader.harness.ble_transport is None  # the system's Bluetooth
            assert hil_uploader.harness.usb_backend is None  # libusb
        """
    )
    rig = write_rig(pytester.path / "rig.toml", REAL_GLS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--hil-target=bench", f"--hil-rig={rig}",
        f"--hil-lock-dir={pytester.path / 'locks'}",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.device(kind, **options)*contour-usb*gls-meter*",
            "@pytest.mark.rig(*capabilities)*can*vbus*usb-data*",
        ]
    )


def test_an_unknown_kind_or_capability_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.device("glucometer")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.device('glucometer',)*name one kind of*gls-meter*"])
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rig("teleporter")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.rig: unknown teleporter (known: can, power*"])


def test_bench_needs_a_valid_rig_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--hil-target=bench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--hil-target=bench: no rig configured: give --hil-rig rig.toml*"]
    )
    bad = pytester.path / "rig.toml"
    bad.write_text('[devices.meter]\nkind = "gls-meter"\nurl = "ble"\nserial = "S"\nseriall = 1\n')
    result = pytester.runpytest("--hil-target=bench", f"--hil-rig={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-rig:*rig.toml: not a valid rig file:*", "*seriall*"])
