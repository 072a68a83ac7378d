"""End to end: an emulated Contour meter, the real uploader over pyusb, the mock cloud.

Every test judges the result by the meter's own ledger (``hil.oracle`` through the
``ledger_check`` fixture), read back from the cloud over HTTP: nothing lost, nothing
duplicated, every value and time right.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.faults import CorruptChecksum, DelayInReport, StallEndpoint, UnplugAfterBytes
from emulator.model import GlucoseUnit
from emulator.timing import REALISTIC
from emulator.usb import EmulatedUsbBackend
from hil.cloud import Account, CloudReader, CloudServer
from hil.devices import EmulatedUsbMeter, plug_contour_meter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from uploader.errors import (
    AmbiguousDevice,
    AuthenticationFailed,
    DeviceCommunicationError,
    DeviceDisconnected,
    DeviceNotFound,
    DeviceTimeout,
    Step,
)
from uploader.state import SyncState

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]


def test_the_cloud_holds_exactly_the_meters_ledger(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_reader: CloudReader,
    cloud_account: Account,
) -> None:
    result = uploader.upload(contour_meter.device_spec)
    ledger = contour_meter.model.ledger()
    controls = sum(r.is_control for r in ledger)
    assert result.status == "uploaded"
    assert result.records_read == len(ledger) > 90 * 3
    assert result.control_solution_skipped == controls > 0
    assert result.verification is not None and result.verification.ok
    assert ledger_check(contour_meter).assert_exact() == len(ledger) - controls
    (data_set,) = cloud_reader.data_sets(cloud_account)
    assert data_set["deviceSerialNumber"] == contour_meter.model.serial_number
    assert data_set["deviceModel"] == "Contour Next USB"
    assert data_set["timeProcessing"] == "across-the-board-timezone"
    assert data_set["timezone"] == uploader.timezone


def test_second_upload_has_no_new_data_and_sends_nothing(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    cloud_reader: CloudReader,
    cloud_account: Account,
) -> None:
    uploader.upload()
    before = cloud_reader.data(cloud_account)
    second = uploader.upload()
    assert second.status == "no-new-data"
    assert (second.new_datums, second.data_set_id, second.created) == (0, None, None)
    assert "upload" not in second.timings
    assert len(cloud_reader.data_sets(cloud_account)) == 1  # no data set opened
    assert cloud_reader.data(cloud_account) == before


def test_a_new_reading_is_the_only_thing_sent_next_time(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    uploader.upload()
    contour_meter.model.measure(142)
    result = uploader.upload()
    assert (result.status, result.new_datums, result.created, result.duplicates) == (
        "uploaded",
        1,
        1,
        0,
    )
    ledger_check(contour_meter).assert_exact()


def test_unplug_mid_transfer_loses_nothing_and_the_next_run_uploads_once(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_reader: CloudReader,
    cloud_account: Account,
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))  # well inside the results
    with pytest.raises(DeviceDisconnected) as caught:
        uploader.upload()
    error = caught.value
    assert error.step is Step.FETCH
    assert "disconnected" in error.user_message() and "Nothing was uploaded" in error.user_message()
    assert contour_meter.faults.fired == ["unplugged after 2560 bytes"]
    assert cloud_reader.data(cloud_account) == [] and cloud_reader.data_sets(cloud_account) == []
    state = SyncState(uploader.state_path)
    account, device_id = (
        f"{uploader.cloud_url}#{cloud_account.user_id}",
        "ContourNextUSB-7390-2336773",
    )
    assert state.uploaded_keys(account, device_id) == set()
    assert state.last_run(account, device_id) is None
    state.close()

    contour_meter.faults.clear()
    contour_meter.plug()  # the user plugs it back in
    result = uploader.upload()
    assert result.status == "uploaded" and result.duplicates == 0
    ledger_check(contour_meter).assert_exact()


def test_a_corrupted_frame_is_naked_and_resent(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    contour_meter.faults.add(CorruptChecksum(frame=7, times=2))
    result = uploader.upload()
    assert contour_meter.faults.fired == [
        "corrupted checksum of frame 7 (send 1)",
        "corrupted checksum of frame 7 (send 2)",
    ]
    assert result.link_stats["naks_sent"] == 2
    ledger_check(contour_meter).assert_exact()


def test_a_meter_that_keeps_failing_gives_a_clear_error(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    cloud_reader: CloudReader,
    cloud_account: Account,
) -> None:
    contour_meter.faults.add(CorruptChecksum(frame=12, times=None))
    with pytest.raises(DeviceCommunicationError) as caught:
        uploader.upload()
    assert caught.value.step is Step.FETCH
    # Both ends give up after the sixth damaged copy (E1381), the uploader with a clear message.
    assert "record 13 of the transfer failed 6 times in a row" in caught.value.message
    assert contour_meter.faults.fired[-1] == "corrupted checksum of frame 12 (send 6)"
    assert cloud_reader.data(cloud_account) == []


def test_a_late_report_is_asked_for_again_and_not_duplicated(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    contour_meter.faults.add(DelayInReport(report=30, seconds=0.4))
    result = uploader.upload(device_timeout_ms=150)
    assert result.link_stats["naks_sent"] >= 1
    assert result.link_stats["duplicates_dropped"] >= 1
    ledger_check(contour_meter).assert_exact()


def test_a_stalled_meter_is_a_clear_error(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    contour_meter.faults.add(StallEndpoint(0x81, after_transfers=10))
    with pytest.raises(DeviceCommunicationError, match="stalled") as caught:
        uploader.upload()
    assert caught.value.step in (Step.IDENTIFY, Step.FETCH)


def test_memory_that_wrapped_uploads_what_the_meter_still_holds(
    usb_bus: EmulatedUsbBackend, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    meter = plug_contour_meter(usb_bus, uploader.timezone, days=90, memory_capacity=120)
    assert len(meter.model.ledger()) == 120 and meter.model.memory.overwritten > 300
    uploader.upload()
    ledger_check(meter).assert_exact()


def test_a_meter_set_to_mmol_per_litre(
    usb_bus: EmulatedUsbBackend,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_reader: CloudReader,
    cloud_account: Account,
) -> None:
    meter = plug_contour_meter(
        usb_bus, uploader.timezone, days=120, seed=11, unit=GlucoseUnit.MMOL_L
    )
    assert any(r.out_of_range for r in meter.model.ledger())
    uploader.upload()
    assert {d["units"] for d in cloud_reader.data(cloud_account, type="smbg")} == {"mmol/L"}
    ledger_check(meter).assert_exact()


def test_realistic_timing_still_uploads_and_a_too_short_timeout_is_named(
    usb_bus: EmulatedUsbBackend, uploader: UploadHarness
) -> None:
    plug_contour_meter(usb_bus, uploader.timezone, days=3, timing=REALISTIC)
    with pytest.raises(DeviceTimeout) as caught:
        uploader.upload(device_timeout_ms=1)  # shorter than the meter takes to answer
    assert caught.value.step in (Step.IDENTIFY, Step.FETCH)
    assert "did not answer in time" in caught.value.user_message()
    assert uploader.upload().status == "uploaded"


def test_two_meters_need_a_serial_to_choose(
    usb_bus: EmulatedUsbBackend, uploader: UploadHarness
) -> None:
    first = plug_contour_meter(usb_bus, uploader.timezone, serial_number="7390-1111111", days=5)
    plug_contour_meter(usb_bus, uploader.timezone, serial_number="7390-2222222", days=5, seed=2)
    with pytest.raises(AmbiguousDevice, match="2 matching devices") as caught:
        uploader.upload("usb")
    assert "7390-1111111" in caught.value.message and "7390-2222222" in caught.value.message
    result = uploader.upload(first.device_spec)
    assert result.device.serial_number == "7390-1111111"


def test_no_meter_plugged_in(uploader: UploadHarness) -> None:
    with pytest.raises(DeviceNotFound, match="No supported device was found on USB") as caught:
        uploader.upload()
    assert caught.value.step is Step.DETECT
    assert "data cable" in caught.value.user_message()


def test_wrong_password_fails_before_the_meter_is_touched(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        uploader.upload(password="not-the-password")
    assert caught.value.step is Step.LOGIN
    assert contour_meter.device.bytes_transferred == 0


def test_over_real_http_to_a_uvicorn_cloud(
    mock_cloud_server: CloudServer, usb_bus: EmulatedUsbBackend, hil_timezone: str, tmp_path: Path
) -> None:
    account = mock_cloud_server.create_account("sam@example.test", "another-long-password")
    meter = plug_contour_meter(usb_bus, hil_timezone, days=30, seed=5)
    harness = UploadHarness(
        cloud_url=mock_cloud_server.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "state.sqlite3",
        usb_backend=usb_bus,
    )
    assert harness.upload().status == "uploaded"
    assert harness.upload().status == "no-new-data"
    held = CloudReader(mock_cloud_server.base_url).data(account, type="smbg")
    compare_with_ledger(expected_smbg(meter.model, hil_timezone), held).assert_exact()
