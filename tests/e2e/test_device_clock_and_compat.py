"""End to end: the device clock check (warning, --set-clock) and the compatibility table
(unsupported model, firmware too old), with emulated meters on USB and Bluetooth."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from emulator.ble import GlsMeter
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from uploader.cli import execute
from uploader.errors import ExitCode, FirmwareTooOld, Step, UnsupportedDevice

CLOCK_SLACK = timedelta(seconds=3)


def test_a_gls_meter_clock_off_is_warned_about_and_set_clock_fixes_it(
    make_gls_meter: Callable[..., EmulatedBleDevice[GlsMeter]],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    meter = make_gls_meter(seed=3, days=5, clock_offset=timedelta(minutes=47))
    first = ble_uploader.upload_ble(meter)
    assert first.clock is not None and first.clock.warning
    assert abs(first.clock.difference - timedelta(minutes=47)) < CLOCK_SLACK
    warning = first.clock.message()
    assert warning is not None and "47 minutes ahead of this computer's" in warning
    assert "--set-clock" in warning and warning in first.notes
    reported = first.as_dict()["clock"]
    assert reported["warning"] is True and reported["timezone"] == hil_timezone
    assert abs(reported["difference_s"] - 47 * 60) < CLOCK_SLACK.total_seconds()
    assert abs(meter.peripheral.model.clock.offset - timedelta(minutes=47)) < CLOCK_SLACK

    second = ble_uploader.upload_ble(meter, set_clock=True)
    assert second.clock is not None and second.clock.set_to is not None
    assert abs(meter.peripheral.model.clock.offset) < CLOCK_SLACK  # the meter's own clock
    # Setting the clock moved no record: the cloud still holds exactly the ledger.
    expected = expected_smbg(meter.peripheral.model, hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, cloud_inspector.data(cloud_account, type="smbg")).assert_exact()

    third = ble_uploader.upload_ble(meter)
    assert third.clock is not None and not third.clock.warning
    assert third.clock.message() is None


def test_a_small_difference_under_the_threshold_is_no_warning_and_the_threshold_is_settable(
    make_gls_meter: Callable[..., EmulatedBleDevice[GlsMeter]],
    ble_uploader: UploadHarness,
) -> None:
    meter = make_gls_meter(seed=4, days=2, clock_offset=timedelta(minutes=-6))
    quiet = ble_uploader.upload_ble(meter)
    assert quiet.clock is not None and not quiet.clock.warning
    assert not any("clock" in note for note in quiet.notes)
    strict = ble_uploader.upload_ble(meter, clock_warning=timedelta(minutes=5))
    assert strict.clock is not None and strict.clock.warning
    message = strict.clock.message()
    assert message is not None and "6 minutes behind" in message


def test_a_contour_meter_clock_cannot_be_set_over_usb_and_the_user_is_told_how(
    make_contour_meter: Callable[..., EmulatedUsbMeter], uploader: UploadHarness
) -> None:
    meter = make_contour_meter(seed=5, days=5, clock_offset=timedelta(hours=-3))
    result = uploader.upload(meter.device_spec, set_clock=True)
    assert result.clock is not None and result.clock.warning and result.clock.set_to is None
    message = result.clock.message()
    assert message is not None and "3.0 hours behind" in message
    assert "set it on the meter" in message
    assert abs(meter.model.clock.offset - timedelta(hours=-3)) < CLOCK_SLACK  # unchanged


def assert_nothing_uploaded(inspector: CloudInspector, account: Account) -> None:
    assert inspector.data(account) == []
    assert inspector.data_sets(account) == []


def test_contour_firmware_older_than_the_minimum_is_refused_before_reading(
    make_contour_meter: Callable[..., EmulatedUsbMeter],
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter = make_contour_meter(seed=6, days=5, firmware_version="01.10")
    with pytest.raises(FirmwareTooOld) as refused:
        uploader.upload(meter.device_spec)
    error = refused.value
    assert error.step is Step.IDENTIFY and error.exit_code is ExitCode.DEVICE_NOT_SUPPORTED
    assert "Update the firmware first" in error.message
    assert "01.10" in error.message and "01.24" in error.message
    assert_nothing_uploaded(cloud_inspector, cloud_account)

    # The command line's answer: exit code 8 and the message, as one JSON object for CI.
    code = execute(uploader.options(meter.device_spec), as_json=True)
    answer = json.loads(capsys.readouterr().out)
    assert code == 8 and answer["exit_code"] == 8
    assert answer["error"] == "FirmwareTooOld" and answer["step"] == "identify"
    assert "01.10" in answer["message"] and "firmware" in answer["hint"]
    assert_nothing_uploaded(cloud_inspector, cloud_account)


def test_an_unsupported_bluetooth_model_is_refused_with_its_exit_code(
    make_gls_meter: Callable[..., EmulatedBleDevice[GlsMeter]],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    meter = make_gls_meter(seed=7, days=5, model_name="Accu-Chek Guide")
    with pytest.raises(UnsupportedDevice) as refused:
        ble_uploader.upload_ble(meter)
    assert refused.value.step is Step.IDENTIFY
    assert "This model is not supported: Accu-Chek Guide" in refused.value.message
    assert_nothing_uploaded(cloud_inspector, cloud_account)


def test_cloud_data_from_a_day_ahead_clock_is_reported_as_the_latest_day(
    make_gls_meter: Callable[..., EmulatedBleDevice[GlsMeter]],
    ble_uploader: UploadHarness,
    hil_timezone: str,
) -> None:
    # The meter's clock was a day ahead for a while: its readings went up dated tomorrow.
    meter = make_gls_meter(seed=8, days=2, clock_offset=timedelta(days=1))
    first = ble_uploader.upload_ble(meter)
    assert first.latest_day is not None
    tomorrow = first.latest_day.device_day
    assert tomorrow == first.latest_day.previous_full_day + timedelta(days=2)

    # The user clears the meter, fixes its clock and measures: the newest record is today,
    # but the cloud's latest day for this meter is still tomorrow.
    model = meter.peripheral.model
    model.delete(number for number, _ in model.numbered_ledger())
    model.clock.set(model.clock.now() - timedelta(days=1))
    model.measure(118)
    second = ble_uploader.upload_ble(meter)
    assert second.status == "uploaded" and second.new_datums == 1
    assert second.latest_day is not None
    assert second.latest_day.device_day == tomorrow - timedelta(days=1)
    assert second.latest_day.cloud_day == tomorrow
    assert any(f"up to {tomorrow}" in note for note in second.notes)
    assert second.as_dict()["latest_day"]["cloud_day"] == tomorrow.isoformat()


def test_an_ordinary_upload_has_no_latest_day_note(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    result = uploader.upload(contour_meter.device_spec)
    assert result.latest_day is not None
    assert result.latest_day.device_day == result.latest_day.cloud_day
    assert result.latest_day.notes() == []
    assert not any("latest day" in note for note in result.notes)
