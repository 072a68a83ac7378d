"""The compatibility table (uploader.compat) and ``diahil devices``."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from hil.cli import app
from uploader.compat import check, version_key
from uploader.errors import ExitCode, FirmwareTooOld, UnsupportedDevice
from uploader.records import DeviceIdentity

NEXT_USB = DeviceIdentity(
    manufacturer="Bayer",
    model="Contour Next USB",
    serial_number="7390-2336773",
    firmware_version="01.24",
    device_id="ContourNextUSB-7390-2336773",
    tags=("bgm",),
)


@pytest.mark.parametrize(
    ("version", "key"), [("01.24", (1, 24)), ("2.1.0", (2, 1, 0)), ("v10.2-rc3", (10, 2, 3))]
)
def test_versions_compare_by_their_numbers(version: str, key: tuple[int, ...]) -> None:
    assert version_key(version) == key


def test_a_supported_model_at_or_above_its_minimum_passes() -> None:
    assert check("contour-usb", NEXT_USB) is None
    assert check("contour-usb", replace(NEXT_USB, firmware_version="01.30")) is None
    assert check("contour-usb", replace(NEXT_USB, firmware_version="2.00")) is None
    assert (
        check("gls", replace(NEXT_USB, model="contour next one", firmware_version="2.10")) is None
    )


def test_older_firmware_is_refused_naming_both_versions() -> None:
    with pytest.raises(FirmwareTooOld) as refused:
        check("contour-usb", replace(NEXT_USB, firmware_version="01.9"))
    assert refused.value.exit_code is ExitCode.DEVICE_NOT_SUPPORTED
    assert "has firmware 01.9, and uploads need 01.24 or newer" in refused.value.message


def test_a_model_not_in_the_table_for_its_driver_is_refused() -> None:
    with pytest.raises(UnsupportedDevice, match="This model is not supported: Contour Next USB"):
        check("gls", NEXT_USB)  # listed for USB, not for Bluetooth
    with pytest.raises(UnsupportedDevice, match="Supported on this connection: diahil CGM"):
        check("cgms", replace(NEXT_USB, model="Other Sensor"))


def test_unknown_firmware_passes_with_a_note_and_unlisted_drivers_are_not_checked() -> None:
    note = check("gls", replace(NEXT_USB, model="diahil GLS meter", firmware_version="unknown"))
    assert note is not None and "did not report its firmware" in note
    assert check("", replace(NEXT_USB, model="Anything")) is None


def test_diahil_devices_prints_the_table() -> None:
    listed = CliRunner().invoke(app, ["devices", "--json"])
    assert listed.exit_code == 0
    rows = {(r["driver"], r["model"]): r["min_firmware"] for r in json.loads(listed.output)}
    assert rows[("contour-usb", "Contour Next USB")] == "01.24"
    assert rows[("cgms", "diahil CGM")] == "1.0.0"
    shown = CliRunner().invoke(app, ["devices"])
    assert shown.exit_code == 0 and "Contour Next USB" in shown.output
