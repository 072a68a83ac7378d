"""Each test records device identity, firmware, uploader version and measurements in JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib.metadata import version

import pytest


def test_junit_properties_name_the_device_the_uploader_and_the_measurements(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.device("gls-meter", serial_number="GLS-7777777", firmware_version="2.3.1")
        def test_upload(hil_device, hil_uploader, hil_ledger_check, hil_measure):
            hil_uploader.upload()
            hil_ledger_check().assert_exact()
            hil_measure("battery_percent", 87)

        def test_plain():
            pass

        def test_with_the_meter_fixture(make_contour_meter):
            make_contour_meter(days=2, firmware_version="01.30")
        """
    )
    xml_path = pytester.path / "junit.xml"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--junitxml={xml_path}")
    result.assert_outcomes(passed=3)
    cases = {case.get("name"): case for case in ET.parse(xml_path).getroot().iter("testcase")}
    properties = {
        name: {str(p.get("name")): str(p.get("value")) for p in case.iter("property")}
        for name, case in cases.items()
    }
    upload = properties["test_upload"]
    assert upload["uploader_version"] == version("diahil")
    assert upload["hil_target"] == "emulated"
    assert upload["device_kind"] == "gls-meter"
    assert upload["device_serial"] == "GLS-7777777"
    assert upload["device_firmware"] == "2.3.1"
    assert upload["device_reported_serial"] == "GLS-7777777"  # what the device itself said
    assert upload["device_reported_firmware"] == "2.3.1"
    assert int(upload["measure.new_datums"]) > 0
    assert int(upload["measure.records_read"]) >= int(upload["measure.new_datums"])
    assert float(upload["measure.upload_s"]) > 0
    assert upload["ledger_matched"] == upload["ledger_expected"] == upload["measure.new_datums"]
    assert upload["measure.battery_percent"] == "87"
    assert properties["test_plain"] == {
        "uploader_version": version("diahil"),
        "hil_target": "emulated",
    }
    meter = properties["test_with_the_meter_fixture"]
    assert (meter["device_kind"], meter["device_serial"], meter["device_firmware"]) == (
        "contour-usb",
        "7390-2336773",
        "01.30",
    )
