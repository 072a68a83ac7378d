"""End to end: an emulated Contour meter, the real uploader over pyusb, the mock cloud.

Every test judges the result by the meter's own ledger (``hil.oracle`` through the
``ledger_check`` fixture), read back from the cloud over HTTP: nothing lost, nothing
duplicated, every value and time right.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import usb.core
import usb.util

from emulator.faults import (
    CorruptChecksum,
    DelayInReport,
    DenyAccess,
    FaultPlan,
    StallEndpoint,
    UnplugAfterBytes,
)
from emulator.model import GlucoseUnit, MeterReading
from emulator.timing import REALISTIC
from emulator.usb import EmulatedUsbBackend
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedUsbMeter, plug_contour_meter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from uploader.errors import (
    AmbiguousDevice,
    AuthenticationFailed,
    CloudDataConflict,
    DeviceAccessDenied,
    DeviceBusy,
    DeviceCommunicationError,
    DeviceDisconnected,
    DeviceNotFound,
    DeviceTimeout,
    Step,
)
from uploader.state import SyncState

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]
MakeMeter = Callable[..., EmulatedUsbMeter]


def test_the_cloud_holds_exactly_the_meters_ledger(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
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
    (data_set,) = cloud_inspector.data_sets(cloud_account)
    assert data_set["deviceSerialNumber"] == contour_meter.model.serial_number
    assert data_set["deviceModel"] == "Contour Next USB"
    assert data_set["timeProcessing"] == "across-the-board-timezone"
    assert data_set["timezone"] == uploader.timezone


def test_second_upload_has_no_new_data_and_sends_nothing(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    uploader.upload()
    before = cloud_inspector.data(cloud_account)
    second = uploader.upload()
    assert second.status == "no-new-data"
    assert (second.new_datums, second.data_set_id, second.created) == (0, None, None)
    assert "upload" not in second.timings
    assert len(cloud_inspector.data_sets(cloud_account)) == 1  # no data set opened
    assert cloud_inspector.data(cloud_account) == before


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
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))  # well inside the results
    with pytest.raises(DeviceDisconnected) as caught:
        uploader.upload()
    error = caught.value
    assert error.step is Step.FETCH
    assert "disconnected" in error.user_message() and "Nothing was uploaded" in error.user_message()
    assert contour_meter.faults.fired == ["unplugged after 2560 bytes"]
    assert (
        cloud_inspector.data(cloud_account) == [] and cloud_inspector.data_sets(cloud_account) == []
    )
    state = SyncState(uploader.state_path)
    account, device_id = (
        f"{uploader.cloud_url}#{cloud_account.user_id}",
        "ContourNextUSB-7390-2336773",
    )
    assert state.uploaded_keys(account, device_id) == set()
    failed = state.last_run(account, device_id)  # the failed run is logged, nothing verified
    assert failed is not None and failed["status"] == "failed"
    assert failed["summary"]["error"] == "DeviceDisconnected"
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
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    contour_meter.faults.add(CorruptChecksum(frame=12, times=None))
    with pytest.raises(DeviceCommunicationError) as caught:
        uploader.upload()
    assert caught.value.step is Step.FETCH
    # Both ends give up after the sixth damaged copy (E1381), the uploader with a clear message.
    assert "its record 13 (the header being 1) arrived damaged 6 times" in caught.value.message
    assert contour_meter.faults.fired[-1] == "corrupted checksum of frame 12 (send 6)"
    assert cloud_inspector.data(cloud_account) == []


def test_a_late_report_within_the_timeout_changes_nothing(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    contour_meter.faults.add(DelayInReport(report=30, seconds=0.3))
    result = uploader.upload(device_timeout_ms=1000)
    assert contour_meter.faults.fired == ["delayed IN report 30 by 0.3 s"]
    assert result.link_stats == {"naks_sent": 0, "duplicates_dropped": 0}
    ledger_check(contour_meter).assert_exact()


def test_a_meter_silent_past_the_timeout_is_a_clear_error_and_the_rerun_is_exact(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    contour_meter.faults.add(DelayInReport(report=30, seconds=0.5))
    with pytest.raises(DeviceTimeout, match="stopped sending in the middle of its data") as caught:
        uploader.upload(device_timeout_ms=100)
    assert caught.value.step is Step.FETCH
    contour_meter.faults.clear()
    contour_meter.unplug()
    contour_meter.plug()
    assert uploader.upload().status == "uploaded"
    ledger_check(contour_meter).assert_exact()


def test_a_stalled_meter_is_a_clear_error(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    contour_meter.faults.add(StallEndpoint(0x81, after_transfers=10))
    with pytest.raises(DeviceCommunicationError, match="stalled") as caught:
        uploader.upload()
    assert caught.value.step in (Step.IDENTIFY, Step.FETCH)


def test_memory_that_wrapped_uploads_what_the_meter_still_holds(
    make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    meter = make_contour_meter(days=90, memory_capacity=120)
    assert len(meter.model.ledger()) == 120 and meter.model.memory.overwritten > 300
    uploader.upload()
    ledger_check(meter).assert_exact()


def test_a_meter_set_to_mmol_per_litre(
    make_contour_meter: MakeMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    meter = make_contour_meter(days=120, seed=11, unit=GlucoseUnit.MMOL_L)
    assert any(r.out_of_range for r in meter.model.ledger())
    uploader.upload()
    assert {d["units"] for d in cloud_inspector.data(cloud_account, type="smbg")} == {"mmol/L"}
    ledger_check(meter).assert_exact()


@pytest.mark.parametrize("family", ["Contour USB", "Contour Next One"])
def test_the_other_contour_usb_models(
    family: str, make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    meter = make_contour_meter(family=family, days=60, seed=4)
    result = uploader.upload()
    assert result.device.model == family
    ledger_check(meter).assert_exact()


def test_readings_across_both_daylight_saving_changes(
    make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    """A meter keeps wall-clock time: 02:30 on the spring-forward day never happened and
    01:30 on the fall-back day happened twice; both must land where the oracle says."""
    meter = make_contour_meter(days=1)
    meter.model.memory.clear()
    meter.model.load_history(
        [
            MeterReading(datetime(2025, 11, 2, 0, 45), 120),
            MeterReading(datetime(2025, 11, 2, 1, 30), 131),  # the repeated hour
            MeterReading(datetime(2025, 11, 2, 2, 15), 142),
            MeterReading(datetime(2026, 3, 8, 1, 55), 153),
            MeterReading(datetime(2026, 3, 8, 2, 30), 164),  # the skipped hour
            MeterReading(datetime(2026, 3, 8, 3, 5), 175),
        ]
    )
    uploader.upload()
    assert ledger_check(meter).assert_exact() == 6


def test_realistic_timing_still_uploads_and_a_too_short_timeout_is_named(
    make_contour_meter: MakeMeter, uploader: UploadHarness
) -> None:
    make_contour_meter(days=3, timing=REALISTIC)
    with pytest.raises(DeviceTimeout) as caught:
        uploader.upload(device_timeout_ms=1)  # shorter than the meter takes to answer
    assert caught.value.step in (Step.IDENTIFY, Step.FETCH)
    assert "did not answer in time" in caught.value.user_message()
    assert uploader.upload().status == "uploaded"


def test_unplugged_by_hand_during_a_slow_transfer(
    make_contour_meter: MakeMeter, uploader: UploadHarness, usb_bus: EmulatedUsbBackend
) -> None:
    meter = make_contour_meter(days=30, timing=REALISTIC)  # about 3 s to read: time to pull it
    threading.Timer(0.5, usb_bus.unplug, args=(meter.device,)).start()
    with pytest.raises(DeviceDisconnected) as caught:
        uploader.upload()
    assert caught.value.step is Step.FETCH


def test_two_meters_need_a_serial_to_choose(
    make_contour_meter: MakeMeter, uploader: UploadHarness
) -> None:
    first = make_contour_meter(serial_number="7390-1111111", days=5)
    make_contour_meter(serial_number="7390-2222222", days=5, seed=2)
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


def test_no_permission_to_open_the_meter(
    make_contour_meter: MakeMeter, uploader: UploadHarness
) -> None:
    make_contour_meter(days=5, faults=FaultPlan([DenyAccess()]))
    with pytest.raises(DeviceAccessDenied, match="may not open") as caught:
        uploader.upload()
    assert "udev rule" in caught.value.user_message()
    assert caught.value.exit_code == 3


def test_a_meter_held_by_another_program(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, usb_bus: EmulatedUsbBackend
) -> None:
    other = usb.core.find(idVendor=0x1A79, backend=usb_bus)
    other.detach_kernel_driver(0)
    other.set_configuration()
    usb.util.claim_interface(other, 0)  # the vendor's software has it open
    with pytest.raises(DeviceBusy, match="Another program") as caught:
        uploader.upload()
    assert caught.value.step is Step.CONNECT
    usb.util.dispose_resources(other)
    assert uploader.upload().status == "uploaded"


def test_the_kernel_driver_gets_the_meter_back(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    uploader.upload()
    assert contour_meter.device.kernel_bound == {0}
    contour_meter.faults.add(CorruptChecksum(frame=3, times=None))
    with pytest.raises(DeviceCommunicationError):
        uploader.upload()
    assert contour_meter.device.kernel_bound == {0}


def test_readings_lost_from_the_cloud_are_sent_again(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    first = uploader.upload()
    assert first.data_set_id is not None
    cloud_inspector.delete_data_set(cloud_account, first.data_set_id)
    again = uploader.upload()
    assert (again.status, again.new_datums, again.resent) == ("uploaded", 0, first.new_datums)
    assert any("missing from the cloud" in note for note in again.notes)
    ledger_check(contour_meter).assert_exact()


def test_a_different_timezone_than_last_time_is_a_conflict_not_duplicates(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    uploader.upload()
    before = cloud_inspector.data(cloud_account)
    with pytest.raises(CloudDataConflict, match="uploaded with another timezone") as caught:
        uploader.upload(timezone="Europe/Berlin")
    assert caught.value.step is Step.RECONCILE
    assert "--timezone used before" in caught.value.user_message()
    assert cloud_inspector.data(cloud_account) == before


def test_wrong_password_fails_before_the_meter_is_touched(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        uploader.upload(password="not-the-password")
    assert caught.value.step is Step.LOGIN
    assert contour_meter.device.bytes_transferred == 0


def test_over_real_http_to_a_uvicorn_cloud(
    mock_cloud_server: CloudServer,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> None:
    account = mock_cloud_server.create_account("sam@example.test", "another-long-password")
    meter = plug_contour_meter(usb_bus, hil_timezone, days=30, seed=5, now=hil_now)
    harness = UploadHarness(
        cloud_url=mock_cloud_server.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "state.sqlite3",
        usb_backend=usb_bus,
    )
    assert harness.upload().status == "uploaded"
    assert harness.upload().status == "no-new-data"
    held = CloudInspector(mock_cloud_server.base_url).data(account, type="smbg")
    compare_with_ledger(expected_smbg(meter.model, hil_timezone), held).assert_exact()
